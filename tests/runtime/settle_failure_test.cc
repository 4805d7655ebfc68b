// A broker that refuses acks: each refusal is counted, and the log gets one
// line for a burst, not one per message.
#include <gtest/gtest.h>

#include "brokers/mem/mem_broker.h"
#include "runtime/delivery_policy.h"
#include "runtime/settle_log.h"
#include "support/faulty_broker.h"
#include "support/host_fixture.h"
#include "support/log_capture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

TEST(SettleFailureLog, FirstOfABurstThenASummaryAtMostEveryPeriod) {
  SettleFailureLog log(10s);
  const auto t0 = SettleFailureLog::Clock::now();
  EXPECT_EQ(log.Note(t0), 1u);
  EXPECT_FALSE(log.Note(t0 + 1s));
  EXPECT_FALSE(log.Note(t0 + 9s));
  EXPECT_EQ(log.Note(t0 + 10s), 3u);  // the two kept quiet and this one
  EXPECT_FALSE(log.Note(t0 + 11s));
  EXPECT_EQ(log.Note(t0 + 60s), 2u);
}

// Deliveries of the embedded broker, through a FaultyBroker.
std::vector<Delivery> Deliver(Broker& broker, const std::string& topic, int n) {
  Inbox seen;
  std::mutex m;
  std::vector<Delivery> out;
  SubscribeOptions options;
  options.pattern = topic;
  auto sub = broker.Subscribe(options, [&](Delivery d) {
    {
      std::lock_guard lock(m);
      out.push_back(d);
    }
    seen.Add(d.message);
  });
  EXPECT_OK(sub);
  Message msg;
  msg.topic = topic;
  msg.data = Bytes::FromString("x");
  for (int i = 0; i < n; ++i) EXPECT_OK(broker.Publish(msg, Clock::now() + 5s));
  seen.WaitFor(n);
  std::lock_guard lock(m);
  std::vector<Delivery> result = out;
  return result;
}

TEST(SettleFailures, RefusedAcksAreCountedAndLoggedOncePerBurst) {
  auto faults = std::make_shared<Faults>();
  auto broker = MakeFaultyBroker(MakeMemBroker({}), faults);
  ASSERT_OK(broker->Connect());
  auto deliveries = Deliver(*broker, "acks.in", 20);
  ASSERT_EQ(deliveries.size(), 20u);

  LogCapture log;
  DeliveryCounters counters;
  Settler settler("probe", DeliveryPolicy{}, *broker, counters, [](Delivery, auto) {});
  faults->fail_ack = true;
  for (Delivery& d : deliveries) settler.Handled(d);

  EXPECT_EQ(counters.handled.load(), 20u);
  EXPECT_EQ(counters.settle_failed.load(), 20u);
  EXPECT_EQ(faults->refused_settles.load(), 20u);
  EXPECT_EQ(log.Count("the broker refused"), 1u);
  EXPECT_EQ(log.Count("probe: the broker refused to ack a message on acks.in (injected fault: "
                      "ack refused); it may deliver it again"),
            1u);
}

TEST(SettleFailures, RefusedNacksAndTermsAreCountedToo) {
  auto faults = std::make_shared<Faults>();
  auto broker = MakeFaultyBroker(MakeMemBroker({}), faults);
  ASSERT_OK(broker->Connect());
  auto deliveries = Deliver(*broker, "nacks.in", 2);
  ASSERT_EQ(deliveries.size(), 2u);

  DeliveryCounters counters;
  DeliveryPolicy policy;
  policy.max_attempts = 1;  // the first failure gives up: a term
  Settler retrying("probe", DeliveryPolicy{}, *broker, counters, [](Delivery, auto) {});
  Settler giving_up("probe", policy, *broker, counters, [](Delivery, auto) {});
  faults->fail_nack = true;
  faults->fail_term = true;
  retrying.Failed(deliveries[0], Failure::kError, Error::Internal("no"));
  giving_up.Failed(deliveries[1], Failure::kError, Error::Internal("no"));
  EXPECT_EQ(counters.settle_failed.load(), 2u);
  EXPECT_EQ(counters.retried.load(), 1u);
  EXPECT_EQ(counters.given_up.load(), 1u);
}

TEST(FaultyBroker, FailsTheNthPublishOnly) {
  auto faults = std::make_shared<Faults>();
  faults->fail_publish_at = 2;
  auto broker = MakeFaultyBroker(MakeMemBroker({}), faults);
  ASSERT_OK(broker->Connect());
  Message msg;
  msg.topic = "p.x";
  EXPECT_OK(broker->Publish(msg, Clock::now() + 1s));
  EXPECT_FALSE(broker->Publish(msg, Clock::now() + 1s).ok());
  EXPECT_OK(broker->Publish(msg, Clock::now() + 1s));
  EXPECT_EQ(faults->publishes.load(), 3u);
}

}  // namespace
}  // namespace ferry::testing
