// A whole Host on a broker that fails on command (tests/support/
// faulty_broker.h, registered as the scheme "faulty"): a publish failing in
// the middle of a 0.1.0 batch, refused acks, a connection dropping under a
// guest's request, a broker slower than the handler.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "support/faulty_host.h"
#include "support/host_fixture.h"
#include "support/log_capture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class FaultInjection : public FaultyHostTest {
 protected:
  std::unique_ptr<RunningHost> Host(const std::string& body) { return FaultyHost(body); }
};

// echo_010 gets four messages in one handler call and sends them on in one
// send; the broker refuses the third publish of that send. Ferry resumes
// the send from the refused message: each is sent once, none twice.
TEST_F(FaultInjection, APublishFailingInTheMiddleOfA010BatchSendsNothingTwice) {
  auto h = Host(
      "[[component]]\nname = \"echo010\"\npath = \"$COMPONENTS/echo_010.wasm\"\n"
      "subscribe = [\"echo.in\"]\nbatch_size = 4\nbatch_linger_ms = 2000\n"
      "retry_delay_ms = 10\n");
  Inbox& out = h->Listen("echo.out");
  // Publishes 1-4 are ours, 5-8 the guest's send: the 7th is its third.
  faults_->fail_publish_at = 7;
  for (int i = 0; i < 4; ++i) ASSERT_OK(h->Publish("echo.in", "m" + std::to_string(i)));
  const ComponentStats st = h->SettledStats("echo010", 4);
  out.WaitFor(4);
  EXPECT_EQ(st.handled, 4u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(Tally(out), (std::map<std::string, int>{{"m0", 1}, {"m1", 1}, {"m2", 1}, {"m3", 1}}));
  EXPECT_EQ(faults_->publishes.load(), 9u);  // the refused one was tried again, alone
}

// Every ack is refused for a while. Each refusal is counted, the log has
// one line for the burst, and what follows is the broker's, as
// docs/RELIABILITY.md says: it delivers the message again and the handler
// sees it twice; nothing is lost.
TEST_F(FaultInjection, RefusedAcksAreCountedLoggedOnceAndRedelivered) {
  LogCapture log;
  auto h = Host(
      "[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"echo.in\"]\n");
  Inbox& out = h->Listen("echo.out");
  faults_->fail_ack = true;
  constexpr int kMessages = 5;
  for (int i = 0; i < kMessages; ++i) ASSERT_OK(h->Publish("echo.in", "a" + std::to_string(i)));
  for (int i = 0; i < 500 && faults_->refused_settles.load() < kMessages; ++i)
    std::this_thread::sleep_for(10ms);
  faults_->fail_ack = false;
  // A redelivery may have been refused too: each is handled once more.
  const ComponentStats st = h->WaitForStats("echo", [&](const ComponentStats& s) {
    const std::uint64_t refused = faults_->refused_settles.load();
    return s.handled >= kMessages + refused && s.settle_failed >= refused;
  });
  const std::uint64_t refused = faults_->refused_settles.load();
  ASSERT_GE(refused, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(st.settle_failed, refused);
  EXPECT_EQ(st.handled, kMessages + refused);  // each refused ack: one more handling
  out.WaitFor(kMessages + refused);
  const auto tally = Tally(out);
  EXPECT_EQ(tally.size(), static_cast<std::size_t>(kMessages));
  for (const auto& [text, n] : tally) EXPECT_GE(n, 1) << text;
  EXPECT_EQ(log.Count("the broker refused"), 1u);
  EXPECT_EQ(log.Count("echo: the broker refused to ack a message on echo.in (injected fault: "
                      "ack refused); it may deliver it again"),
            1u);
}

// The connection drops while the guest waits in `request` (no timeout of its
// own: the host's bound is a minute). The guest gets the interface's error
// at once and reports it; the host goes on handling messages.
TEST_F(FaultInjection, AConnectionDroppedDuringARequestEndsItPromptly) {
  auto h = Host(
      "[limits]\nmax_request_ms = 60000\nhandler_timeout_ms = 60000\n"
      "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
      "subscribe = [\"misbehave.in\"]\n");
  Inbox& out = h->Listen("misbehave.out");
  ASSERT_OK(h->Publish("misbehave.in", "echo-request"));
  for (int i = 0; i < 2000 && faults_->requests_waiting.load() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(faults_->requests_waiting.load(), 1u);
  const auto dropped = Clock::now();
  faults_->DropConnection();
  auto got = out.WaitFor(1);
  const auto took = Clock::now() - dropped;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(Text(got[0]), HasSubstr("the connection dropped while waiting for replies"));
  EXPECT_LT(took, 20s);  // not the minute the request could have waited
  ASSERT_OK(h->Publish("misbehave.in", "still here"));
  got = out.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(Text(got[1]), "ok: still here");
  const ComponentStats st = h->SettledStats("misbehave", 2);  // the output can beat the count
  EXPECT_EQ(st.handled, 2u);
  EXPECT_EQ(st.failed, 0u);
}

// Every broker call takes 5 ms, longer than the echo handler itself. All
// messages arrive, and the deliveries out and unsettled at once never pass
// the subscription's bound (queue_depth + workers): no queue grows.
TEST_F(FaultInjection, ABrokerSlowerThanTheHandlerLosesNothingAndQueuesNoMore) {
  auto h = Host(
      "[limits]\nqueue_depth = 4\n"
      "[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"echo.in\"]\n");
  Inbox& out = h->Listen("echo.out");
  faults_->delay_ms = 5;
  constexpr int kPerThread = 40, kThreads = 4;
  std::vector<std::thread> publishers;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t)
    publishers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i)
        if (!h->Publish("echo.in", std::to_string(t) + "." + std::to_string(i)).ok()) ++errors;
    });
  for (auto& p : publishers) p.join();
  EXPECT_EQ(errors.load(), 0);
  out.WaitFor(kPerThread * kThreads, 60s);
  const auto tally = Tally(out);
  EXPECT_EQ(tally.size(), static_cast<std::size_t>(kPerThread * kThreads));
  const ComponentStats st = h->SettledStats("echo", kPerThread * kThreads);
  EXPECT_EQ(st.handled, static_cast<std::uint64_t>(kPerThread * kThreads));
  EXPECT_LE(faults_->peak_unsettled.load(), 4 + 1);
  std::printf("peak unsettled deliveries: %lld\n",
              static_cast<long long>(faults_->peak_unsettled.load()));
}

// A broker slower than the whole guest call: the guest's send gives up at
// the call's deadline (the interface's timeout error), not when the broker
// would have been done, and the host goes on.
TEST_F(FaultInjection, ABrokerSlowerThanTheCallIsCutAtTheCallsDeadline) {
  auto h = Host(
      "[limits]\nhandler_timeout_ms = 300\n"
      "[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"echo.in\"]\n"
      "max_attempts = 1\n");
  faults_->delay_ms = 3000;  // our publish too: the handler starts as it returns
  ASSERT_OK(h->Publish("echo.in", "slow"));
  const auto start = Clock::now();
  const ComponentStats st =
      h->WaitForStats("echo", [](const ComponentStats& s) { return s.failed >= 1; });
  const auto took = Clock::now() - start;
  EXPECT_EQ(st.failed, 1u);
  EXPECT_LT(took, 2500ms);  // the call's 300 ms, not the broker's 3 s
  faults_->delay_ms = 0;
}

}  // namespace
}  // namespace ferry::testing
