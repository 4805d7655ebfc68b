#include "support/faulty_host.h"

#include "support/matchers.h"

namespace ferry::testing {

void FaultyHostTest::SetUp() {
  auto scheme = RegisterFaultyScheme(faults_);
  ASSERT_OK(scheme);
  scheme_ = std::move(scheme).value();
}

std::unique_ptr<RunningHost> FaultyHostTest::FaultyHost(const std::string& body) {
  auto host = std::make_unique<RunningHost>("[brokers]\ndefault = \"faulty://\"\n" + body);
  EXPECT_OK(host->start_status());
  return host;
}

}  // namespace ferry::testing
