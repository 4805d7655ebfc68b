// Capability grants: a component reaches only the brokers and topics its
// config lists. Anything else is the interface's permission error, and
// nothing reaches the broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class Grants : public ::testing::Test {
 protected:
  void Start(const std::string& grants) {
    host_ = std::make_unique<RunningHost>(
        "[brokers]\nother = \"mem://\"\n"
        "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
        "subscribe = [\"misbehave.in\"]\nmax_attempts = 1\n" + grants);
    ASSERT_OK(host_->start_status());
    out_ = &host_->Listen("misbehave.out");
  }
  std::string Ask(const std::string& command) {
    const std::size_t before = out_->Snapshot().size();
    EXPECT_OK(host_->Publish("misbehave.in", command));
    auto got = out_->WaitFor(before + 1, 5s);
    return got.size() > before ? Text(got[before]) : "<nothing>";
  }
  std::unique_ptr<RunningHost> host_;
  Inbox* out_ = nullptr;
};

TEST_F(Grants, PublishingOutsideTheGrantIsDeniedAndReachesNoBroker) {
  Start("allow_publish = [\"misbehave.out\", \"orders.*\"]\n");
  Inbox& secret = host_->Listen("secret.>");
  EXPECT_EQ(Ask("send orders.new"), "sent");
  EXPECT_EQ(Ask("send secret.plans"),
            "permission-denied: component 'misbehave' may not publish to 'secret.plans' (not in "
            "its allow_publish)");
  EXPECT_THAT(Ask("send orders.new.eu"), AllOf(StartsWith("permission-denied: "), HasSubstr("orders.new.eu")));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(secret.Snapshot().empty());
}

TEST_F(Grants, RequestsNeedTheirOwnGrant) {
  Start("allow_publish = [\"misbehave.out\"]\n");
  EXPECT_THAT(Ask("echo-request"),
              AllOf(StartsWith("permission-denied: "), HasSubstr("may not request on 'misbehave.svc'")));
}

TEST_F(Grants, OnlyListedBrokersCanBeConnected) {
  Start("allow_publish = [\"misbehave.out\"]\n");
  EXPECT_EQ(Ask("connect default"), "connected");
  EXPECT_THAT(Ask("connect other"),
              AllOf(StartsWith("permission-denied: "), HasSubstr("may not connect to 'other'")));
}

TEST(GrantsDefault, AComponentWithoutGrantsOnlyReceivesItsOwnSubscriptions) {
  // No GrantEverything here: the config says allow_ nowhere but in a comment.
  RunningHost host("# allow_ nothing\n[[component]]\npath = \"$COMPONENTS/echo.wasm\"\n"
                   "subscribe = [\"echo.in\"]\nmax_attempts = 1\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("echo.out");
  ASSERT_OK(host.Publish("echo.in", "hello"));
  auto s = host.WaitForStats("echo", [](const ComponentStats& s) { return s.failed == 1; });
  EXPECT_EQ(s.handled, 0u);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(out.Snapshot().empty());
}

TEST(GrantsV010, ChannelsAGuestAsksForMustBeGranted) {
  const std::string base = "[[component]]\nname = \"probe\"\npath = \"$COMPONENTS/probe010.wasm\"\n";
  {
    RunningHost host(base + "# allow_ nothing\n");
    ASSERT_FALSE(host.start_status().ok());
    EXPECT_THAT(host.start_status().error().message(),
                AllOf(HasSubstr("configure asked for channel 'probe.in'"),
                      HasSubstr("may not subscribe to 'probe.in'")));
  }
  RunningHost host(base + "allow_subscribe = [\"probe.in\"]\nallow_publish = [\"probe.out\"]\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("probe.out");
  auto ask = [&](const std::string& command) {
    const std::size_t before = out.Snapshot().size();
    EXPECT_OK(host.Publish("probe.in", command));
    auto got = out.WaitFor(before + 1, 5s);
    return got.size() > before ? Text(got[before]) : "<nothing>";
  };
  EXPECT_THAT(ask("subscribe extra.x"),
              AllOf(StartsWith("update: "), HasSubstr("may not subscribe to 'extra.x'")));
  EXPECT_THAT(ask("pull other.d 50"),
              AllOf(StartsWith("pull: "), HasSubstr("may not subscribe to 'other.d'")));
  EXPECT_THAT(host.StatsOf("probe").subscriptions, ::testing::ElementsAre("probe.in"));
}

}  // namespace
}  // namespace ferry::testing
