// A test whose hosts run on faulty:// (support/faulty_broker.h): the scheme
// is registered for the test's length, and `faults_` steers the broker.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/faulty_broker.h"
#include "support/host_fixture.h"

namespace ferry::testing {

class FaultyHostTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // A started host whose default broker is the faulty one; `body` follows
  // its [brokers] table.
  std::unique_ptr<RunningHost> FaultyHost(const std::string& body);

  std::shared_ptr<Faults> faults_ = std::make_shared<Faults>();
  std::unique_ptr<ScopedBrokerScheme> scheme_;
};

}  // namespace ferry::testing
