#include "support/kafka_server.h"

#include <set>

#include "brokers/registry.h"
#include "support/kafka_config.h"

namespace ferry::testing {

KafkaServer::KafkaServer() : process_("kafka", KafkaCommand("$DIR")) {
  std::set<std::uint16_t> ports;
  while (ports.size() < 3) ports.insert(FreePort());
  auto it = ports.begin();
  port_ = *it++;
  controller_port_ = *it++;
  sasl_port_ = *it;
  process_.UsePort(port_);
  prepared_ = PrepareKafka(process_.dir(), {port_, controller_port_, sasl_port_});
  const std::string url = Url();
  // An open port is not readiness: a metadata request must succeed.
  process_.ReadyWhen([url]() -> Status {
    auto broker = MakeBroker(url, {{"connect_timeout_ms", "1000"}});
    if (!broker.ok()) return broker.error();
    return (*broker)->Connect();
  });
}

Status KafkaServer::Start() {
  if (!prepared_.ok()) return prepared_;
  return process_.Start(std::chrono::seconds(60));
}

}  // namespace ferry::testing
