// The behaviour every broker adapter owes the runtime, as one parameterised
// suite. An adapter's test file instantiates it with a BrokerTarget:
//
//   INSTANTIATE_TEST_SUITE_P(Nats, BrokerConformance,
//                            ::testing::Values(NatsCoreTarget()), TargetName);
//
// Each test opens two connections (`a`, `b`) to the same server, the way two
// Ferry processes would, and uses topics under a prefix unique to the test so
// runs never see each other's messages.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "brokers/broker.h"

namespace ferry::testing {

struct BrokerTarget {
  std::string name;  // test-name suffix: letters, digits, underscores
  // A new, unconnected broker on the shared server (the target starts the
  // server on first use and keeps it for the whole run).
  std::function<Result<std::unique_ptr<Broker>>()> make;
  // Topics the tests use start with this (a stream's subjects, say).
  std::string topic_prefix = "conf";
  // Added to every subscription's extensions.
  std::map<std::string, std::string> extensions;
  // Time a broker may need before a fresh subscription sees publishes
  // (MQTT and Redis confirm subscriptions asynchronously).
  std::chrono::milliseconds settle{0};
  // Metadata the ordering test puts on every message: what a broker needs
  // to keep one publisher's messages in order (Kafka orders per partition,
  // so the messages share a record key). Empty for the others.
  Metadata order_metadata;
};

void PrintTo(const BrokerTarget& target, std::ostream* os);
std::string TargetName(const ::testing::TestParamInfo<BrokerTarget>& info);

// Deliveries collected with waiting.
class Sink {
 public:
  void Add(Delivery d);
  // Waits until at least `n` arrived or `limit` passed; returns the count.
  std::size_t WaitFor(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10));
  std::size_t size();
  Delivery At(std::size_t i);  // a copy (the acker is shared)
  std::vector<std::string> Texts();
  DeliveryHandler Handler() {
    return [this](Delivery d) { Add(std::move(d)); };
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Delivery> got_;
};

// Wraps one broker so several owners can share it (the embedded broker has
// no server: its two "connections" are the same object).
std::unique_ptr<Broker> ShareBroker(std::shared_ptr<Broker> broker);

Message TestMessage(const std::string& topic, const std::string& data);

class BrokerConformance : public ::testing::TestWithParam<BrokerTarget> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A topic unique to this test: <prefix>.<test>.<suffix>.
  std::string Topic(const std::string& suffix) const;
  SubscribeOptions Options(const std::string& pattern, const std::string& group = "",
                           bool manual_ack = false) const;
  std::unique_ptr<Subscription> Subscribe(Broker& broker, SubscribeOptions options, Sink& sink);
  Deadline Soon() const { return Clock::now() + std::chrono::seconds(5); }

  std::unique_ptr<Broker> a_;
  std::unique_ptr<Broker> b_;
  std::string unique_;
};

}  // namespace ferry::testing
