#include "brokers/mem/mem_broker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "brokers/registry.h"
#include "brokers/conformance.h"
#include "support/matchers.h"

namespace ferry {
namespace {

using testing::BrokerConformance;

using namespace std::chrono_literals;

Message Msg(const std::string& topic, const std::string& data = "x") {
  Message m;
  m.topic = topic;
  m.data = Bytes::FromString(data);
  return m;
}

// Collects deliveries with waiting.
struct Sink {
  std::mutex m;
  std::condition_variable cv;
  std::vector<Delivery> got;
  void Add(Delivery d) {
    std::lock_guard lock(m);
    got.push_back(std::move(d));
    cv.notify_all();
  }
  std::size_t WaitFor(std::size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(m);
    cv.wait_for(lock, limit, [&] { return got.size() >= n; });
    return got.size();
  }
  std::size_t size() {
    std::lock_guard lock(m);
    return got.size();
  }
};

class MemBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = MakeMemBroker({.queue_capacity = 4});
    ASSERT_OK(broker_->Connect());
  }
  std::unique_ptr<Subscription> Sub(const std::string& pattern, Sink& sink,
                                    const std::string& group = "", bool manual_ack = false) {
    auto s = broker_->Subscribe({.pattern = pattern, .queue_group = group, .manual_ack = manual_ack},
                                [&sink](Delivery d) { sink.Add(std::move(d)); });
    EXPECT_OK(s);
    return s.ok() ? std::move(s).value() : nullptr;
  }
  Deadline Soon() { return Clock::now() + 5s; }

  std::unique_ptr<Broker> broker_;
};

TEST_F(MemBrokerTest, WildcardsRouteByToken) {
  Sink star, rest, exact;
  auto a = Sub("orders.*", star);
  auto b = Sub("orders.>", rest);
  auto c = Sub("orders.new", exact);
  ASSERT_OK(broker_->Publish(Msg("orders.new"), Soon()));
  ASSERT_OK(broker_->Publish(Msg("orders.new.eu"), Soon()));
  ASSERT_OK(broker_->Publish(Msg("invoices.new"), Soon()));
  EXPECT_EQ(rest.WaitFor(2), 2u);
  EXPECT_EQ(star.WaitFor(1), 1u);
  EXPECT_EQ(exact.WaitFor(1), 1u);
  ASSERT_OK(broker_->Publish(Msg("orders.old"), Soon()));
  EXPECT_EQ(star.WaitFor(2), 2u);
  EXPECT_EQ(exact.size(), 1u);
}

TEST_F(MemBrokerTest, QueueGroupGivesEachMessageToOneMember) {
  Sink a, b, all;
  auto sa = Sub("jobs", a, "workers");
  auto sb = Sub("jobs", b, "workers");
  auto s_all = Sub("jobs", all);
  for (int i = 0; i < 40; ++i) ASSERT_OK(broker_->Publish(Msg("jobs", std::to_string(i)), Soon()));
  ASSERT_EQ(all.WaitFor(40), 40u);
  for (int i = 0; i < 100 && a.size() + b.size() < 40; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(a.size() + b.size(), 40u);
  EXPECT_GT(a.size(), 0u);
  EXPECT_GT(b.size(), 0u);
}

TEST_F(MemBrokerTest, FullQueueMakesPublisherWaitNotDrop) {
  std::mutex gate;
  gate.lock();  // the handler blocks until the test opens the gate
  std::atomic<int> handled{0};
  auto sub = broker_->Subscribe({.pattern = "slow", .manual_ack = false}, [&](Delivery) {
    std::lock_guard lock(gate);
    ++handled;
  });
  ASSERT_OK(sub);
  // One in the handler plus a queue of 4: the sixth publish cannot finish.
  for (int i = 0; i < 5; ++i) ASSERT_OK(broker_->Publish(Msg("slow"), Soon()));
  Status late = broker_->Publish(Msg("slow"), Clock::now() + 100ms);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code(), ErrorCode::kResourceExhausted);
  std::thread publisher([&] { EXPECT_OK(broker_->Publish(Msg("slow"), Clock::now() + 10s)); });
  gate.unlock();
  publisher.join();
  for (int i = 0; i < 500 && handled < 6; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(handled.load(), 6);
}

TEST_F(MemBrokerTest, NackRedeliversWithAttemptCount) {
  Sink sink;
  auto sub = Sub("retry", sink, "", /*manual_ack=*/true);
  ASSERT_OK(broker_->Publish(Msg("retry", "again"), Soon()));
  ASSERT_EQ(sink.WaitFor(1), 1u);
  {
    std::lock_guard lock(sink.m);
    EXPECT_EQ(sink.got[0].attempt, 1u);
    ASSERT_OK(sink.got[0].acker->Nack(20ms));
    EXPECT_FALSE(sink.got[0].acker->Ack().ok());  // already settled
  }
  ASSERT_EQ(sink.WaitFor(2), 2u);
  std::lock_guard lock(sink.m);
  EXPECT_EQ(sink.got[1].attempt, 2u);
  EXPECT_EQ(sink.got[1].message.data.view(), "again");
  ASSERT_OK(sink.got[1].acker->Ack());
}

// A nacked delivery keeps its in-flight slot until it is queued again, so a
// handler that fails everything cannot pile up redeliveries without bound:
// with max_in_flight = 2 and long nack delays, only two are ever out.
TEST_F(MemBrokerTest, RedeliveriesWaitingCountAgainstMaxInFlight) {
  std::atomic<int> calls{0};
  auto sub = broker_->Subscribe({.pattern = "fail", .manual_ack = true, .max_in_flight = 2},
                                [&](Delivery d) {
                                  ++calls;
                                  ASSERT_OK(d.acker->Nack(std::chrono::hours(1)));
                                });
  ASSERT_OK(sub);
  for (int i = 0; i < 6; ++i) ASSERT_OK(broker_->Publish(Msg("fail"), Soon()));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(calls.load(), 2);
  // A short delay comes back and, its slot given back, lets the next go out.
  sub->reset();
  std::atomic<int> quick{0};
  auto again = broker_->Subscribe({.pattern = "quick", .manual_ack = true, .max_in_flight = 1},
                                  [&](Delivery d) {
                                    if (++quick <= 3) ASSERT_OK(d.acker->Nack(10ms));
                                    else ASSERT_OK(d.acker->Ack());
                                  });
  ASSERT_OK(again);
  ASSERT_OK(broker_->Publish(Msg("quick"), Soon()));
  ASSERT_OK(broker_->Publish(Msg("quick"), Soon()));
  for (int i = 0; i < 200 && quick.load() < 5; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(quick.load(), 5);  // three nacked attempts, then both acked
}

TEST_F(MemBrokerTest, RequestCollectsRepliesAndTimesOut) {
  auto svc = [&](const std::string& answer) {
    return broker_->Subscribe({.pattern = "svc", .manual_ack = false}, [this, answer](Delivery d) {
      Message r = Msg(d.message.reply_to, answer);
      (void)broker_->Publish(r, Clock::now() + 5s);
    });
  };
  auto one = svc("a");
  ASSERT_OK(one);
  auto single = broker_->Request(Msg("svc"), {.timeout = 5s, .expected_replies = 1});
  ASSERT_OK(single);
  EXPECT_EQ(single->size(), 1u);
  auto two = svc("b");
  auto both = broker_->Request(Msg("svc"), {.timeout = 5s, .expected_replies = 2});
  ASSERT_OK(both);
  EXPECT_EQ(both->size(), 2u);
  // Asking for three within a short timeout returns the two that came.
  auto partial = broker_->Request(Msg("svc"), {.timeout = 200ms, .expected_replies = 3});
  ASSERT_OK(partial);
  EXPECT_EQ(partial->size(), 2u);
  auto none = broker_->Request(Msg("nobody.home"), {.timeout = 50ms, .expected_replies = 1});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kTimeout);
}

TEST_F(MemBrokerTest, InvalidTopicsAndClosedBroker) {
  EXPECT_EQ(broker_->Publish(Msg("a..b"), Soon()).error().code(), ErrorCode::kInvalidArgument);
  Sink sink;
  EXPECT_FALSE(broker_->Subscribe({.pattern = "a.>.b"}, [](Delivery) {}).ok());
  broker_->Close();
  EXPECT_EQ(broker_->Publish(Msg("a"), Soon()).error().code(), ErrorCode::kConnection);
}

TEST_F(MemBrokerTest, UnsubscribeStopsDelivery) {
  Sink sink;
  auto sub = Sub("t", sink);
  ASSERT_OK(broker_->Publish(Msg("t"), Soon()));
  ASSERT_EQ(sink.WaitFor(1), 1u);
  sub.reset();
  ASSERT_OK(broker_->Publish(Msg("t"), Soon()));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(sink.size(), 1u);
}

// A try_handler runs on the publisher's thread. Destroying the subscription
// while one runs waits for it to return, as for a call on the delivery
// thread; a handler that unsubscribes itself from inside does not wait on
// itself.
TEST_F(MemBrokerTest, UnsubscribeWaitsForADirectDeliveryStillRunning) {
  std::atomic<bool> entered{false}, release{false}, returned{false};
  std::thread::id ran_on;
  SubscribeOptions options{.pattern = "t", .manual_ack = false};
  options.try_handler = [&](Delivery&) {
    ran_on = std::this_thread::get_id();
    entered = true;
    while (!release) std::this_thread::sleep_for(1ms);
    returned = true;
    return true;
  };
  auto sub = broker_->Subscribe(options, [](Delivery) {});
  ASSERT_OK(sub);
  std::thread publisher([&] { EXPECT_OK(broker_->Publish(Msg("t"), Soon())); });
  while (!entered) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(ran_on, publisher.get_id());
  std::thread releaser([&] {
    std::this_thread::sleep_for(100ms);
    release = true;
  });
  sub->reset();
  EXPECT_TRUE(returned.load()) << "the subscription went while its handler still ran";
  publisher.join();
  releaser.join();

  std::unique_ptr<Subscription> self;
  std::mutex self_mutex;
  SubscribeOptions own{.pattern = "u", .manual_ack = false};
  std::atomic<bool> dropped{false};
  own.try_handler = [&](Delivery&) {
    std::lock_guard lock(self_mutex);
    self.reset();  // unsubscribes from inside its own call
    dropped = true;
    return true;
  };
  auto made = broker_->Subscribe(own, [](Delivery) {});
  ASSERT_OK(made);
  {
    std::lock_guard lock(self_mutex);
    self = std::move(made).value();
  }
  ASSERT_OK(broker_->Publish(Msg("u"), Soon()));
  EXPECT_TRUE(dropped.load());
}

testing::BrokerTarget MemTarget() {
  // The embedded broker has no server: both "connections" share one broker.
  auto shared = std::shared_ptr<Broker>(MakeMemBroker({}));
  return {.name = "Mem",
          .make = [shared]() -> Result<std::unique_ptr<Broker>> {
            return testing::ShareBroker(shared);
          }};
}

INSTANTIATE_TEST_SUITE_P(Mem, BrokerConformance, ::testing::Values(MemTarget()),
                         testing::TargetName);

// A reload's hand-over: a subscription handed over keeps queueing (and takes
// back what its old subscriber releases) until one with the same key,
// pattern and queue group takes it up; one nobody takes up ends with
// EndHandOvers, and a plain subscription cannot be handed over.
TEST_F(MemBrokerTest, HandedOverSubscriptionQueuesForItsSuccessor) {
  Sink before, after, other;
  SubscribeOptions options{.pattern = "h.in", .manual_ack = true, .hand_over_key = "comp"};
  auto old_sub = broker_->Subscribe(options, [&](Delivery d) { before.Add(std::move(d)); });
  ASSERT_OK(old_sub);
  ASSERT_OK(broker_->Publish(Msg("h.in", "0"), Soon()));
  ASSERT_EQ(before.WaitFor(1), 1u);
  ASSERT_TRUE((*old_sub)->HandOver());
  ASSERT_OK(broker_->Publish(Msg("h.in", "1"), Soon()));
  ASSERT_OK(broker_->Publish(Msg("h.in", "2"), Soon()));
  {
    std::lock_guard lock(before.m);
    ASSERT_OK(before.got[0].acker->Nack(0ms));  // released by the old subscriber
  }
  old_sub->reset();  // destroying the handed-over object changes nothing
  auto kept = broker_->Subscribe(
      {.pattern = "h.other", .manual_ack = true, .hand_over_key = "comp"},
      [&](Delivery d) { other.Add(std::move(d)); });
  ASSERT_OK(kept);
  ASSERT_TRUE((*kept)->HandOver());  // the new configuration drops this one
  auto new_sub = broker_->Subscribe(options, [&](Delivery d) {
    (void)d.acker->Ack();
    after.Add(std::move(d));
  });
  ASSERT_OK(new_sub);
  broker_->EndHandOvers();
  ASSERT_EQ(after.WaitFor(3), 3u);
  std::set<std::string> got;
  {
    std::lock_guard lock(after.m);
    for (const auto& d : after.got) got.insert(std::string(d.message.data.view()));
  }
  EXPECT_EQ(got, (std::set<std::string>{"0", "1", "2"}));
  EXPECT_EQ(before.size(), 1u);
  ASSERT_OK(broker_->Publish(Msg("h.other"), Soon()));  // nobody subscribes any more
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(other.size(), 0u);

  Sink plain;
  auto tap = Sub("h.in", plain);
  EXPECT_FALSE(tap->HandOver());
}

TEST(BrokerRegistry, UnknownSchemeIsNamed) {
  auto b = MakeBroker("carrier-pigeon://coop", {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message().find("unknown broker scheme 'carrier-pigeon'"), std::string::npos);
}

}  // namespace
}  // namespace ferry
