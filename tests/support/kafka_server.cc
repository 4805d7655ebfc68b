#include "support/kafka_server.h"

#include <set>

#include <gtest/gtest.h>

#include "brokers/registry.h"
#include "support/matchers.h"
#include "support/kafka_config.h"
#include "support/tls_certs.h"

namespace ferry::testing {

KafkaServer::KafkaServer() : process_("kafka", KafkaCommand("$DIR")) {
  std::set<std::uint16_t> ports;
  while (ports.size() < 5) ports.insert(FreePort());
  auto it = ports.begin();
  port_ = *it++;
  controller_port_ = *it++;
  sasl_port_ = *it++;
  ports_ = {port_, controller_port_, sasl_port_, *it, *std::next(it)};
  process_.UsePort(port_);
  const TlsFiles& tls = SharedTlsFiles();
  prepared_ = PrepareKafka(process_.dir(), ports_, {tls.ca, tls.server_pem_bundle});
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

KafkaServer& SharedKafka() {
  static KafkaServer server;
  EXPECT_OK(server.Start());
  return server;
}

}  // namespace ferry::testing
