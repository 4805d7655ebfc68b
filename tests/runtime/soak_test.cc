// The soak on the embedded broker (reliability proof 10): a minute in CI,
// longer with FERRY_SOAK_SECONDS (docs/RELIABILITY.md has a 30-minute run).
#include <gtest/gtest.h>

#include "support/soak.h"

namespace ferry::testing {
namespace {

TEST(Soak, EmbeddedBrokerStaysFlatUnderMixedTraffic) {
  ExpectSoakStaysFlat({.label = "the embedded broker", .brokers_toml = "default = \"mem://\""});
}

}  // namespace
}  // namespace ferry::testing
