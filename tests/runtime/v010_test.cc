// Components of wasi:messaging@0.1.0 and of its 2024 twin, end to end on the
// embedded broker: configure, batched handler calls, complete and abandon,
// pulls, reconfiguration, the error resource, and bad input. Every test runs
// for both shapes (the same guest source built against each WIT package).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// One attempt per message unless `extra` says otherwise.
std::string ProbeConfig(const std::string& component, const std::string& extra = "") {
  const bool retries = extra.find("max_attempts") != std::string::npos;
  return "[limits]\nhandler_timeout_ms = 3000\n\n[[component]]\nname = \"probe\"\npath = "
         "\"$COMPONENTS/" +
         component + ".wasm\"\n" + (retries ? "" : "max_attempts = 1\n") + extra;
}

class Shape010 : public ::testing::TestWithParam<std::string> {
 protected:
  void Start(const std::string& extra = "") {
    host_ = std::make_unique<RunningHost>(ProbeConfig(GetParam(), extra));
    ASSERT_OK(host_->start_status());
    out_ = &host_->Listen("probe.out");
  }
  // Sends `command` to the probe and returns its next report.
  std::string Ask(const std::string& command, Metadata md = {},
                  std::optional<std::string> content_type = std::nullopt) {
    const std::size_t before = out_->Snapshot().size();
    EXPECT_OK(host_->Publish("probe.in", command, std::move(md), std::move(content_type)));
    auto got = out_->WaitFor(before + 1);
    if (got.size() <= before) return "<nothing>";
    return Text(got[before]);
  }
  ComponentStats Stats() { return host_->StatsOf("probe"); }

  std::unique_ptr<RunningHost> host_;
  Inbox* out_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Shapes, Shape010, ::testing::Values("probe010", "probe2024"));

TEST_P(Shape010, InspectNamesTheShape) {
  auto d = DescribeComponent(Component(GetParam()));
  ASSERT_OK(d);
  if (GetParam() == "probe010") {
    EXPECT_THAT(d->shape, StartsWith("wasi:messaging@0.1.0"));
    EXPECT_THAT(d->imports, Contains("wasi:messaging/consumer@0.1.0"));
    EXPECT_THAT(d->exports, Contains("wasi:messaging/messaging-guest@0.1.0"));
  } else {
    EXPECT_THAT(d->shape, HasSubstr("2024"));
    EXPECT_THAT(d->imports, Contains("wasi:messaging/consumer@0.2.0-draft"));
    EXPECT_THAT(d->exports, Contains("wasi:messaging/messaging-guest@0.2.0-draft"));
  }
  EXPECT_OK(d->runnable);
}

TEST_P(Shape010, ConfigureChoosesTheChannels) {
  Start();
  EXPECT_THAT(Stats().subscriptions, ::testing::ElementsAre("probe.in"));
  EXPECT_EQ(Ask("hello"), "ok: hello");
}

TEST_P(Shape010, DeliveredRecordCarriesChannelTagContentTypeAndFormat) {
  Start();
  EXPECT_EQ(Ask("inspect", {{"a", "1"}, {"format-spec", "cloudevents"}}, "text/plain"),
            "batch=1 format=cloudevents data=inspect "
            "metadata=a=1,channel=probe.in,ferry-delivery=tag,content-type=text/plain");
  EXPECT_EQ(Ask("inspect"), "batch=1 format=raw data=inspect metadata=channel=probe.in,ferry-delivery=tag");
}

TEST_P(Shape010, SentRecordKeepsFormatAsAHeaderAndContentType) {
  Start();
  Inbox& sent = host_->Listen("probe.sent");
  EXPECT_EQ(Ask("send-format"), "sent");
  auto got = sent.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "formatted");
  EXPECT_EQ(got[0].content_type, "text/plain");
  EXPECT_EQ(got[0].metadata, (Metadata{{"k", "v"}, {"format-spec", "cloudevents"}}));
}

TEST_P(Shape010, SendingAnEmptyListSendsNothing) {
  Start();
  Inbox& sent = host_->Listen("probe.sent");
  EXPECT_EQ(Ask("send-empty"), "sent nothing");
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(sent.Snapshot().empty());
}

TEST_P(Shape010, CompleteAcknowledgesForGood) {
  Start("max_attempts = 3\nretry_delay_ms = 10\n");
  EXPECT_EQ(Ask("complete"), "completed");
  auto s = host_->SettledStats("probe", 1);
  EXPECT_EQ(s.handled, 1u);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Stats().received, 1u);
  EXPECT_EQ(Stats().abandoned, 0u);
}

TEST_P(Shape010, AbandonDeliversAgainUntilTheAttemptsRunOut) {
  Start("max_attempts = 3\nretry_delay_ms = 10\n");
  ASSERT_OK(host_->Publish("probe.in", "abandon"));
  auto reports = out_->WaitFor(3);
  ASSERT_EQ(reports.size(), 3u);
  for (const Message& m : reports) EXPECT_EQ(Text(m), "abandoned");
  auto s = host_->WaitForStats("probe", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(s.abandoned, 3u);
  EXPECT_EQ(s.received, 3u);
  EXPECT_EQ(s.handled, 0u);
}

TEST_P(Shape010, HandlerErrorAbandonsWhatWasNotSettled) {
  Start("max_attempts = 2\nretry_delay_ms = 10\n");
  ASSERT_OK(host_->Publish("probe.in", "fail"));
  auto s = host_->WaitForStats("probe", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.received, 2u);  // delivered again once
  EXPECT_EQ(Ask("after"), "ok: after");
}

TEST_P(Shape010, TrapIsAFailedAttemptAndTheHostGoesOn) {
  Start();
  ASSERT_OK(host_->Publish("probe.in", "trap"));
  EXPECT_EQ(Ask("after the trap"), "ok: after the trap");
  auto s = host_->SettledStats("probe", 2);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.handled, 1u);
}

TEST_P(Shape010, EndlessLoopIsCutOffAtTheDeadline) {
  host_ = std::make_unique<RunningHost>(
      "[limits]\nhandler_timeout_ms = 300\n[[component]]\nname = \"probe\"\npath = "
      "\"$COMPONENTS/" + GetParam() + ".wasm\"\nmax_attempts = 1\n");
  ASSERT_OK(host_->start_status());
  out_ = &host_->Listen("probe.out");
  ASSERT_OK(host_->Publish("probe.in", "loop"));
  EXPECT_EQ(Ask("next"), "ok: next");
  EXPECT_EQ(Stats().failed, 1u);
}

TEST_P(Shape010, CompletingTwiceIsAnError) {
  Start();
  EXPECT_THAT(Ask("complete-twice"), AllOf(StartsWith("second: "), HasSubstr("already completed")));
  EXPECT_THAT(Ask("abandon-complete"), AllOf(StartsWith("second: "), HasSubstr("already abandoned")));
}

TEST_P(Shape010, CompletingAMessageNotDeliveredToThisCallIsAnError) {
  Start();
  EXPECT_THAT(Ask("forge"), HasSubstr("was not delivered to this handler call"));
  EXPECT_THAT(Ask("untagged"), HasSubstr("without a ferry-delivery tag"));
  // A real tag from an earlier call (or another component) is no better.
  const std::string tag = Ask("tag");
  EXPECT_THAT(tag, Not(HasSubstr(" ")));
  EXPECT_THAT(Ask("complete-tag " + tag), HasSubstr("was not delivered to this handler call"));
}

TEST_P(Shape010, InvalidChannelsAreErrorsWithTrace) {
  Start();
  EXPECT_THAT(Ask("bad-channel"), AllOf(StartsWith("update: "), HasSubstr("'a..b'")));
  EXPECT_THAT(Ask("bad-send"), AllOf(StartsWith("send: "), HasSubstr("bad..channel")));
  EXPECT_THAT(Stats().subscriptions, ::testing::ElementsAre("probe.in"));
}

TEST_P(Shape010, UpdateGuestConfigurationAddsAndRemovesChannels) {
  Start();
  EXPECT_EQ(Ask("subscribe extra.x,extra.y"), "subscribed");
  EXPECT_THAT(Stats().subscriptions, ::testing::UnorderedElementsAre("probe.in", "extra.x", "extra.y"));
  // Each call has a fresh instance: the change outlived the one that made it.
  const std::size_t before = out_->Snapshot().size();
  ASSERT_OK(host_->Publish("extra.x", "via x"));
  auto got = out_->WaitFor(before + 1);
  ASSERT_GT(got.size(), before);
  EXPECT_EQ(Text(got[before]), "ok: via x");

  EXPECT_EQ(Ask("subscribe extra.y"), "subscribed");
  EXPECT_THAT(Stats().subscriptions, ::testing::UnorderedElementsAre("probe.in", "extra.y"));
  const std::size_t now = out_->Snapshot().size();
  ASSERT_OK(host_->Publish("extra.x", "gone"));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(out_->Snapshot().size(), now);
}

TEST_P(Shape010, PullReturnsWhatArrivesWithinTheTimeout) {
  Start();
  std::thread later([&] {
    std::this_thread::sleep_for(300ms);
    EXPECT_OK(host_->Publish("pull.d", "from d"));
  });
  EXPECT_EQ(Ask("pull pull.d 5000"), "pulled 1: from d");
  later.join();
  EXPECT_EQ(Ask("pull pull.empty 100"), "pulled none");
}

TEST_P(Shape010, BlockingPullEndsAtTheCallsDeadline) {
  Start();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Ask("pull-block pull.never"),
              AllOf(StartsWith("pull: timeout"), HasSubstr("before the handler call's deadline")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(Stats().failed, 0u);  // the guest got an error and carried on
}

TEST_P(Shape010, FreshInstancePerCallUnlessReuseIsAsked) {
  Start();
  EXPECT_EQ(Ask("count"), "calls=1");
  EXPECT_EQ(Ask("count"), "calls=1");
  host_.reset();
  Start("reuse_instances = true\n");
  EXPECT_EQ(Ask("count"), "calls=1");
  EXPECT_EQ(Ask("count"), "calls=2");
}

TEST_P(Shape010, BatchesFillUpToTheSizeWithinTheLinger) {
  Start("batch_size = 4\nbatch_linger_ms = 500\n");
  for (int i = 0; i < 4; ++i) ASSERT_OK(host_->Publish("probe.in", "inspect"));
  auto got = out_->WaitFor(4);
  ASSERT_EQ(got.size(), 4u);
  for (const Message& m : got) EXPECT_THAT(Text(m), StartsWith("batch=4 "));
}

TEST(Shape010Start, ConfigureErrorStopsStartUpNamingComponentAndError) {
  RunningHost host(ProbeConfig("probe010_configure_fails"));
  ASSERT_FALSE(host.start_status().ok());
  EXPECT_THAT(host.start_status().error().message(),
              AllOf(HasSubstr("component probe"), HasSubstr("configure returned an error"),
                    HasSubstr("no-such-broker")));
}

TEST(Shape010Start, ConfigureAskingForAnInvalidChannelStopsStartUp) {
  RunningHost host(ProbeConfig("probe010_bad_channel"));
  ASSERT_FALSE(host.start_status().ok());
  EXPECT_THAT(host.start_status().error().message(),
              AllOf(HasSubstr("component probe"), HasSubstr("channel 'a..b'")));
}

}  // namespace
}  // namespace ferry::testing
