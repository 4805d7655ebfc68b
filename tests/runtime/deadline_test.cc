// Host calls inside a guest call end with that call: a request or a publish
// held up at the broker gives up shortly before handler_timeout_ms, and the
// guest gets the interface's timeout error in time to act on it, instead of
// waiting max_request_ms (or its own longer timeout) and being cut off.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>

#include "support/host_fixture.h"
#include "wasm/host_state.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

// A wait that ignored the call's deadline would settle the delivery only
// after max_request_ms (or the guest's own 2 s timeout).
constexpr char kLimits[] = "[limits]\nhandler_timeout_ms = 500\nmax_request_ms = 30000\n";

std::string Misbehave(const std::string& limits, const std::string& brokers = "") {
  return limits + brokers +
         "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
         "subscribe = [\"misbehave.in\"]\nmax_attempts = 1\n";
}

// Publishes `command` to `topic` and waits for the delivery to settle.
// Checks that it settled within `within` and, when the guest got to report
// (it has the last tenth of its call, at least 50 ms, which an overloaded
// machine may not give it), that it reported `expected`.
ComponentStats ExpectPromptAnswer(RunningHost& host, const std::string& component,
                                  const std::string& topic, const std::string& command, Inbox& out,
                                  const std::string& expected, std::chrono::milliseconds within) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_OK(host.Publish(topic, command));
  const ComponentStats s = host.SettledStats(component, 1);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.handled + s.failed, 1u);
  EXPECT_LT(took, within) << "the host call outlived the guest call";
  auto got = out.WaitFor(s.handled, 2s);
  if (s.handled == 1 && got.size() == 1) {
    EXPECT_EQ(Text(got[0]), expected);
  } else {
    std::cerr << "note: the guest was cut off before it could report\n";
  }
  return s;
}

// The engine ends a guest's outgoing HTTP request at the budget's
// deadline_ns, which it reads on CLOCK_MONOTONIC: the host's steady_clock
// must be that clock, and the deadline handler_timeout past the call's
// start. A deadline on another clock would cut requests at once or never.
TEST(CallDeadline, TheEngineGetsTheDeadlineOnTheMonotonicClock) {
  wasm::GuestServices services;
  services.handler_timeout = 500ms;
  timespec before{};
  ::clock_gettime(CLOCK_MONOTONIC, &before);
  const fe_budget budget =
      wasm::CallBudget(10ms, services, std::chrono::steady_clock::now() + services.handler_timeout);
  const auto since = static_cast<std::int64_t>(budget.deadline_ns) -
                     (static_cast<std::int64_t>(before.tv_sec) * 1'000'000'000 + before.tv_nsec);
  EXPECT_GE(since, 500'000'000);
  EXPECT_LT(since, 600'000'000);
  EXPECT_EQ(budget.epoch_ticks, 50u);
  services.handler_timeout = 0ms;  // unbounded
  EXPECT_EQ(wasm::CallBudget(10ms, services, std::chrono::steady_clock::now()).deadline_ns, 0u);
}

TEST(CallDeadline, RequestNobodyAnswersEndsWithTheCall) {
  RunningHost host(Misbehave(kLimits));
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("misbehave.out");
  // No timeout: max_request_ms would apply. The 2025 timeout case has no text.
  ExpectPromptAnswer(host, "misbehave", "misbehave.in", "echo-request", out, "timeout: ",
                     3000ms);
}

TEST(CallDeadline, RequestTimeoutLongerThanTheCallIsCut) {
  // The client example asks for 2000 ms; the call has 500.
  RunningHost host(std::string(kLimits) +
                   "[[component]]\nname = \"client\"\npath = \"$COMPONENTS/client.wasm\"\n"
                   "subscribe = [\"client.in\"]\nmax_attempts = 1\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("client.out");
  ExpectPromptAnswer(host, "client", "client.in", "anyone", out, "error: timeout", 1500ms);
}

// A subscriber that takes one message and holds it until released.
class StuckSubscriber {
 public:
  void Take() {
    std::unique_lock lock(mutex_);
    ++taken_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  void WaitTaken() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 10s, [&] { return taken_ > 0; });
  }
  void Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int taken_ = 0;
  bool released_ = false;
};

TEST(CallDeadline, PublishIntoAFullQueueEndsWithTheCall) {
  // The old bound (now + handler_timeout at the send) also ended near the
  // call's deadline, so what tells the two apart is whether the guest hears
  // a timeout with time left to act: a 1000 ms call leaves it 100 ms.
  RunningHost host(Misbehave("[limits]\nhandler_timeout_ms = 1000\n",
                             "[brokers]\ndefault = { url = \"mem://\", queue_capacity = 1 }\n"));
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("misbehave.out");
  StuckSubscriber stuck;
  auto listener =
      host.host().Listen("default", "blocked", [&stuck](const Message&) { stuck.Take(); });
  ASSERT_OK(listener);
  // Lets the subscriber go before the listener is destroyed, even when an
  // assertion returns early (destroying it waits for the callback).
  std::unique_ptr<StuckSubscriber, void (*)(StuckSubscriber*)> release(
      &stuck, [](StuckSubscriber* s) { s->Release(); });
  // One message held by the subscriber, one filling its queue of one: the
  // guest's send has to wait for room that never comes.
  ASSERT_OK(host.Publish("blocked", "held"));
  stuck.WaitTaken();
  ASSERT_OK(host.Publish("blocked", "queued"));

  // Past its deadline the broker says "resource exhausted"; the guest must
  // hear "timeout", before its call ends.
  const ComponentStats s =
      ExpectPromptAnswer(host, "misbehave", "misbehave.in", "send blocked", out, "timeout: ", 3000ms);
  EXPECT_EQ(s.handled, 1u) << "the guest was cut off while the host waited";
}

}  // namespace
}  // namespace ferry::testing
