// The native Kafka echo for ferry_broker_bench, on librdkafka with the
// guarantee Ferry's echo gives: a record of echo.in is committed only after
// its copy on echo.out is acknowledged (acks=all, idempotent producer) and
// every earlier record of its partition was too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace ferry::bench {

class KafkaNativeEcho {
 public:
  virtual ~KafkaNativeEcho() = default;
};

// Reads every partition of echo.in from its end as it is now (no group
// join), writes each record to echo.out with its headers.
std::unique_ptr<KafkaNativeEcho> MakeKafkaNativeEcho(const std::string& bootstrap);

}  // namespace ferry::bench
