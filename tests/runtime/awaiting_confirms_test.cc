// PendingSends and AwaitingConfirms on their own: when a handled delivery
// is settled, on which thread, and what a shutdown takes back.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "brokers/pending_sends.h"
#include "runtime/awaiting_confirms.h"
#include "support/matchers.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;

struct Settled {
  std::mutex mutex;
  std::vector<std::pair<std::string, Status>> seen;  // topic, outcome
  std::thread::id thread;
};

AwaitingConfirms::Settle Recorder(Settled& out) {
  return [&out](std::vector<Delivery>& ds, const Status& outcome) {
    std::lock_guard lock(out.mutex);
    out.thread = std::this_thread::get_id();
    for (Delivery& d : ds) out.seen.emplace_back(d.message.topic, outcome);
  };
}

std::vector<Delivery> One(const std::string& topic) {
  std::vector<Delivery> v(1);
  v[0].message.topic = topic;
  return v;
}

bool WaitUntil(const std::function<bool()>& done) {
  for (int i = 0; i < 2000 && !done(); ++i) std::this_thread::sleep_for(5ms);
  return done();
}

TEST(AwaitingConfirms, AllConfirmedBeforeTheHandlerReturnedSettlesAtOnceOnTheWorker) {
  Settled out;
  AwaitingConfirms awaiting(Recorder(out));
  auto sends = PendingSends::Make();
  sends->Track()(Status::Ok());
  std::vector<Delivery> handled_a = One("a");
  awaiting.Park(handled_a, sends);
  std::lock_guard lock(out.mutex);
  ASSERT_EQ(out.seen.size(), 1u);
  EXPECT_TRUE(out.seen[0].second.ok());
  EXPECT_EQ(out.thread, std::this_thread::get_id());
}

TEST(AwaitingConfirms, TheLastConfirmationSettlesOnItsOwnThreadWithTheFirstError) {
  Settled out;
  AwaitingConfirms awaiting(Recorder(out));
  auto sends = PendingSends::Make();
  auto first = sends->Track();
  auto second = sends->Track();
  auto third = sends->Track();
  std::vector<Delivery> handled_b = One("b");
  awaiting.Park(handled_b, sends);
  EXPECT_EQ(awaiting.size(), 1u);
  first(Error::Connection("lost one"));
  second(Status::Ok());
  {
    std::lock_guard lock(out.mutex);
    EXPECT_TRUE(out.seen.empty());  // one still unconfirmed
  }
  std::thread adapter([&] { third(Status::Ok()); });
  adapter.join();
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(out.mutex);
    return !out.seen.empty();
  }));
  std::lock_guard lock(out.mutex);
  EXPECT_FALSE(out.seen[0].second.ok());
  EXPECT_NE(out.seen[0].second.error().message().find("lost one"), std::string::npos);
  EXPECT_NE(out.thread, std::this_thread::get_id());
  EXPECT_EQ(awaiting.size(), 0u);
}

TEST(AwaitingConfirms, WhatIsStillUnconfirmedAtTheDeadlineIsTakenBackAndALateConfirmIsIgnored) {
  Settled out;
  AwaitingConfirms awaiting(Recorder(out));
  auto sends = PendingSends::Make();
  auto late = sends->Track();
  std::vector<Delivery> handled_c = One("c");
  awaiting.Park(handled_c, sends);
  auto left = awaiting.WaitEmpty(Clock::now() + 50ms);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].message.topic, "c");
  late(Status::Ok());
  awaiting.Stop();
  std::lock_guard lock(out.mutex);
  EXPECT_TRUE(out.seen.empty());
}

TEST(PendingSends, AnUntrackedSendIsNotWaitedFor) {
  auto sends = PendingSends::Make();
  auto done = sends->Track();
  sends->Untrack();
  EXPECT_EQ(sends->tracked(), 0u);
  auto outcome = sends->Seal([](Status) { FAIL() << "nothing was outstanding"; });
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->ok());
}

}  // namespace
}  // namespace ferry
