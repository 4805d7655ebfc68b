// Metadata carried on the wire: the Redis pub/sub envelope must decode any
// bytes without harm and give back exactly what was encoded.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "brokers/redis/redis_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string payload(reinterpret_cast<const char*>(data), size);
  ferry::Message m = ferry::redis::Decode("t", payload);
  ferry::Message again = ferry::redis::Decode("t", ferry::redis::Encode(m));
  if (again.data.view() != m.data.view() || again.metadata != m.metadata ||
      again.content_type != m.content_type || again.reply_to != m.reply_to)
    std::abort();
  return 0;
}
