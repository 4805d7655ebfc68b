// The soak on NATS (reliability proof 10): core NATS, so Ferry itself holds
// the retries of the hostile messages. A minute in CI, longer with
// FERRY_SOAK_SECONDS (docs/RELIABILITY.md has a 30-minute run).
#include <gtest/gtest.h>

#include "support/matchers.h"
#include "support/server_process.h"
#include "support/soak.h"

namespace ferry::testing {
namespace {

TEST(Soak, NatsStaysFlatUnderMixedTraffic) {
  ServerProcess server("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT"});
  ASSERT_OK(server.Start());
  ExpectSoakStaysFlat({.label = "NATS",
                       .brokers_toml = "default = \"nats://127.0.0.1:" +
                                       std::to_string(server.port()) + "\""});
}

}  // namespace
}  // namespace ferry::testing
