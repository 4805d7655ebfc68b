// The proposal's examples.md guest (examples/proposal*), in C, in C++ and
// against the 2024 interfaces: channels a, b and c, unsubscribing from a and
// abandoning, pulling from d and completing, sending to d and completing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/host_fixture.h"
#include "support/log_capture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::MatchesRegex;
using ::testing::UnorderedElementsAre;

class ProposalExample : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    host_ = std::make_unique<RunningHost>("[[component]]\nname = \"proposal\"\npath = \"$COMPONENTS/" +
                                          GetParam() + ".wasm\"\nmax_attempts = 3\nretry_delay_ms = 10\n");
    ASSERT_OK(host_->start_status());
    log_ = &host_->Listen("proposal.log");
    d_ = &host_->Listen("d");
  }
  // Publishes to `channel` and returns the example's next log line.
  std::string Send(const std::string& channel) {
    const std::size_t before = log_->Snapshot().size();
    EXPECT_OK(host_->Publish(channel, "payload"));
    auto got = log_->WaitFor(before + 1);
    return got.size() > before ? Text(got[before]) : "<nothing>";
  }
  ComponentStats Stats() { return host_->StatsOf("proposal"); }

  std::unique_ptr<RunningHost> host_;
  Inbox* log_ = nullptr;
  Inbox* d_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Languages, ProposalExample,
                         ::testing::Values("proposal", "proposal_cpp", "proposal_2024"));

TEST_P(ProposalExample, SubscribesToABAndC) {
  EXPECT_THAT(Stats().subscriptions, UnorderedElementsAre("a", "b", "c"));
}

TEST_P(ProposalExample, OnCSendsToDAndCompletes) {
  EXPECT_EQ(Send("c"), "c: sent to d");
  auto got = d_->WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "hello from guest");
  auto s = host_->SettledStats("proposal", 1);
  EXPECT_EQ(s.handled, 1u);
  EXPECT_EQ(s.abandoned, 0u);
}

TEST_P(ProposalExample, OnBPullsFromDWithATimeoutAndCompletes) {
  EXPECT_EQ(Send("b"), "b: pulled 0 from d");
  // With d busy, the pull brings something back.
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    while (!stop) {
      EXPECT_OK(host_->Publish("d", "for b"));
      std::this_thread::sleep_for(5ms);
    }
  });
  const std::string busy = Send("b");
  stop = true;
  feeder.join();
  EXPECT_THAT(busy, MatchesRegex("b: pulled [1-9][0-9]* from d"));
  EXPECT_EQ(host_->SettledStats("proposal", 2).handled, 2u);
}

TEST(GuestOutput, StdoutReachesTheLogTaggedWithTheComponent) {
  LogCapture log;
  // The host applies its own log level; guest output is logged at info.
  RunningHost host("[[component]]\nname = \"proposal\"\npath = \"$COMPONENTS/proposal.wasm\"\n",
                   "info");
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("c", "x"));
  EXPECT_TRUE(log.WaitFor("[proposal] c: sent to d"));
}

TEST(Extensions, UnknownSubscriptionSettingsAreWarnedAboutOnce) {
  LogCapture log;
  // The warning is once per process: a key no earlier run has used.
  const std::string key = "partition" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  RunningHost host("[[component]]\nname = \"proposal\"\npath = \"$COMPONENTS/proposal.wasm\"\n"
                   "extensions = { " + key + " = \"7\" }\n");
  ASSERT_OK(host.start_status());
  // Three subscriptions (a, b, c) carry the setting; one warning names it.
  EXPECT_EQ(log.Count("ignoring the subscription setting '" + key + "'"), 1u);
}

TEST_P(ProposalExample, OnAUnsubscribesFromAAndAbandons) {
  EXPECT_EQ(Send("a"), "a: unsubscribed from a, abandoned the message");
  EXPECT_THAT(Stats().subscriptions, UnorderedElementsAre("b", "c"));
  EXPECT_GE(host_->WaitForStats("proposal", [](const ComponentStats& s) { return s.abandoned >= 1; })
                .abandoned,
            1u);
  // a is no longer listened to; b and c still are.
  const std::size_t before = log_->Snapshot().size();
  ASSERT_OK(host_->Publish("a", "ignored"));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(log_->Snapshot().size(), before);
  EXPECT_EQ(Send("c"), "c: sent to d");
}

}  // namespace
}  // namespace ferry::testing
