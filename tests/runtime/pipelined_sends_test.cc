// Sends that do not wait for the broker's confirmation (Broker::PublishAsync):
// a guest's send returns once the message is in the broker's window, and
// the delivery it handled is acked only after every send it made is
// confirmed; a send lost after it returned fails the delivery, which the
// policy tries again. On the embedded broker wrapped in the FaultyBroker,
// whose confirmations can be delayed or reported lost.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "brokers/registry.h"
#include "support/faulty_host.h"
#include "support/host_fixture.h"
#include "support/log_capture.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

class PipelinedSends : public FaultyHostTest {
 protected:
  std::unique_ptr<RunningHost> Host(const std::string& extra = "") {
    return FaultyHost(extra +
                      "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                      "subscribe = [\"misbehave.in\"]\nretry_delay_ms = 10\n");
  }
};

// One delivery sends 50 messages; each confirmation comes 20 ms late. The
// sends did not wait for them (many were unconfirmed at once), and the
// delivery was acked only after the last one came.
TEST_F(PipelinedSends, ManySendsFromOneDeliveryAreAllConfirmedBeforeItsAck) {
  faults_->confirm_delay_ms = 20;
  auto h = Host();
  Inbox& out = h->Listen("burst.out");
  ASSERT_OK(h->Publish("misbehave.in", "burst 50 burst.out"));
  const ComponentStats st = h->SettledStats("misbehave", 1);
  EXPECT_EQ(st.handled, 1u);
  EXPECT_EQ(st.failed, 0u);
  ExpectOneAckAfterAllConfirmed(*faults_, 50);
  ASSERT_EQ(out.WaitFor(50).size(), 50u);
  const auto tally = Tally(out);
  EXPECT_EQ(tally.size(), 50u);
}

// The fourth of five sends returns, and its confirmation then reports it
// lost. The handler had succeeded, but the delivery fails (its attempt
// counts as failed) and is handled again, so every message goes out at
// least once more after the loss.
TEST_F(PipelinedSends, ASendLostAfterItReturnedFailsTheDeliveryAndItIsRetried) {
  LogCapture log;
  faults_->confirm_delay_ms = 5;
  auto h = Host();
  Inbox& out = h->Listen("burst.out");
  // Publish 1 is the test's; 2-6 the guest's first attempt.
  faults_->fail_confirm_at = 5;
  ASSERT_OK(h->Publish("misbehave.in", "burst 5 burst.out"));
  const ComponentStats st = h->WaitForStats(
      "misbehave", [](const ComponentStats& s) { return s.handled == 1 && s.failed == 1; });
  EXPECT_EQ(st.handled, 1u);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_EQ(st.given_up, 0u);
  EXPECT_EQ(faults_->acks.load(), 1u);
  out.WaitFor(10);
  const auto tally = Tally(out);
  ASSERT_EQ(tally.size(), 5u);
  for (const auto& [text, n] : tally) EXPECT_EQ(n, 2) << text;  // both attempts sent everything
  EXPECT_GE(log.Count("a message it sent was not confirmed by the broker"), 1u);
  EXPECT_GE(log.Count("publish 5 was never confirmed"), 1u);
}

// With a window of 4 and slow confirmations, a burst of 20 never has more
// than 4 unconfirmed: each send past the bound waits for room.
TEST_F(PipelinedSends, TheWindowBoundsWhatIsUnconfirmed) {
  faults_->max_unconfirmed = 4;
  faults_->confirm_delay_ms = 10;
  auto h = Host();
  Inbox& out = h->Listen("burst.out");
  ASSERT_OK(h->Publish("misbehave.in", "burst 20 burst.out"));
  const ComponentStats st = h->SettledStats("misbehave", 1);
  EXPECT_EQ(st.handled, 1u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_LE(faults_->peak_unconfirmed.load(), 4);
  EXPECT_EQ(faults_->peak_unconfirmed.load(), 4);  // and the window was used
  EXPECT_EQ(out.WaitFor(20).size(), 20u);
  EXPECT_EQ(faults_->acks_while_unconfirmed.load(), 0u);
}

// A window that stays full past the guest call's time: the send waits for
// room until the call's deadline, then the guest gets the interface's
// timeout error (and the handler's failure is retried later).
TEST_F(PipelinedSends, ASendAtAFullWindowWaitsNoLongerThanTheCall) {
  faults_->max_unconfirmed = 2;
  faults_->confirm_delay_ms = 4000;
  auto h = Host("[limits]\nhandler_timeout_ms = 600\n");
  Inbox& out = h->Listen("burst.out");
  const auto start = Clock::now();
  ASSERT_OK(h->Publish("misbehave.in", "burst 5 burst.out"));
  const ComponentStats st =
      h->WaitForStats("misbehave", [](const ComponentStats& s) { return s.failed >= 1; });
  EXPECT_GE(st.failed, 1u);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(3500));  // before any confirmation
  EXPECT_EQ(faults_->peak_unconfirmed.load(), 2);
  faults_->confirm_delay_ms = 0;
  (void)out;
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// Every adapter with confirmations takes the window's size from its
// broker settings, and refuses one that cannot be a window.
TEST(MaxUnconfirmed, EveryAdapterTakesTheSettingAndRefusesZero) {
  std::vector<std::string> urls;
#if FERRY_WITH_NATS
  urls.push_back("nats://127.0.0.1:1");
#endif
#if FERRY_WITH_MQTT
  urls.push_back("mqtt://127.0.0.1:1");
#endif
#if FERRY_WITH_REDIS
  urls.push_back("redis://127.0.0.1:1");
#endif
#if FERRY_WITH_RABBITMQ
  urls.push_back("amqp://127.0.0.1:1");
#endif
#if FERRY_WITH_KAFKA
  urls.push_back("kafka://127.0.0.1:1");
#endif
  for (const std::string& url : urls) {
    EXPECT_OK(MakeBroker(url, {{"max_unconfirmed", "8"}})) << url;
    for (const char* bad : {"0", "-3", "lots"}) {
      auto refused = MakeBroker(url, {{"max_unconfirmed", bad}});
      ASSERT_FALSE(refused.ok()) << url << " " << bad;
      EXPECT_EQ(refused.error().message(),
                std::string("max_unconfirmed: expected a positive integer, got '") + bad + "'")
          << url;
    }
  }
}

}  // namespace
}  // namespace ferry::testing
