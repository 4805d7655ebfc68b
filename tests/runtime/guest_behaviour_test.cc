// Bad input and misbehaving guests: each gets a clear error, and the host
// keeps running.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

std::string OneComponent(const std::string& component, const std::string& topic) {
  return "[[component]]\nname = \"" + component + "\"\npath = \"$COMPONENTS/" + component +
         ".wasm\"\nsubscribe = [\"" + topic + "\"]\n";
}

Status StartWith(const std::string& config) {
  RunningHost h(config);
  return h.start_status();
}

TEST(BadComponents, NotWasm) {
  TempDir dir;
  auto path = dir.Write("text.wasm", "this is not wasm");
  Status s = StartWith("[[component]]\npath = \"" + path.string() + "\"\n");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("is not a WebAssembly file"));
}

TEST(BadComponents, CoreModuleInsteadOfComponent) {
  Status s = StartWith(OneComponent("core_module", "x"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("is a core WebAssembly module, not a component"));
}

TEST(BadComponents, UnknownImportIsNamed) {
  Status s = StartWith(OneComponent("bad_import", "x"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(),
              HasSubstr("imports ferry-test:bad-import/gadget, which Ferry does not provide"));
}

TEST(BadComponents, MissingHandlerExport) {
  Status s = StartWith(OneComponent("no_handler", "x"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(),
              HasSubstr("does not export wasi:messaging/incoming-handler@0.2.0-draft"));
}

TEST(BadComponents, MixingInterfaceVersionsIsRefused) {
  Status s = StartWith(OneComponent("mixed", "x"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("mixes interfaces of two wasi:messaging versions"));
  auto d = DescribeComponent(Component("mixed"));
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message(), HasSubstr("mixes interfaces"));
}

TEST(BadComponents, DescribeNamesShapeImportsAndExports) {
  auto d = DescribeComponent(Component("echo"));
  ASSERT_OK(d);
  EXPECT_THAT(d->shape, HasSubstr("0.2.0-draft"));
  EXPECT_THAT(d->imports, ::testing::Contains("wasi:messaging/producer@0.2.0-draft"));
  EXPECT_THAT(d->exports, ::testing::Contains("wasi:messaging/incoming-handler@0.2.0-draft"));
  EXPECT_OK(d->runnable);
}

class Misbehave : public ::testing::Test {
 protected:
  // One attempt per message: these tests count failures one by one.
  Misbehave() : host_(OneComponent("misbehave", "misbehave.in") + "max_attempts = 1\n") {}
  void SetUp() override {
    ASSERT_OK(host_.start_status());
    out_ = &host_.Listen("misbehave.out");
  }
  // Sends `command` and returns the text the guest reports.
  std::string Ask(const std::string& command, Metadata md = {},
                  std::optional<std::string> content_type = std::nullopt) {
    const std::size_t before = out_->Snapshot().size();
    EXPECT_OK(host_.Publish("misbehave.in", command, std::move(md), std::move(content_type)));
    auto got = out_->WaitFor(before + 1);
    if (got.size() <= before) return "<nothing>";
    return Text(got[before]);
  }

  RunningHost host_;
  Inbox* out_ = nullptr;
};

TEST_F(Misbehave, TrapFailsOneDeliveryAndTheHostGoesOn) {
  ASSERT_OK(host_.Publish("misbehave.in", "trap"));
  EXPECT_EQ(Ask("after the trap"), "ok: after the trap");
  auto stats = host_.SettledStats("misbehave", 2);
  EXPECT_EQ(stats.failed, 1u);
  EXPECT_EQ(stats.given_up, 1u);
  EXPECT_EQ(stats.handled, 1u);
}

TEST(Retries, AFailedDeliveryIsTriedMaxAttemptsTimesThenGivenUp) {
  RunningHost host(OneComponent("misbehave", "misbehave.in") +
                   "max_attempts = 3\nretry_delay_ms = 10\n");
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("misbehave.in", "fail"));
  auto stats = host.SettledStats("misbehave", 3);
  EXPECT_EQ(stats.failed, 3u);
  EXPECT_EQ(stats.received, 3u);  // the first delivery and two redeliveries
  for (int i = 0; i < 200 && host.StatsOf("misbehave").given_up == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(host.StatsOf("misbehave").given_up, 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(host.StatsOf("misbehave").failed, 3u);  // nothing after giving up
}

TEST_F(Misbehave, HandlerErrorIsCountedAsFailed) {
  ASSERT_OK(host_.Publish("misbehave.in", "fail"));
  EXPECT_EQ(Ask("next"), "ok: next");
  EXPECT_EQ(host_.SettledStats("misbehave", 2).failed, 1u);
}

TEST_F(Misbehave, UnknownClientNameIsAConnectionErrorNamingIt) {
  EXPECT_EQ(Ask("connect-unknown"), "connection: no broker named 'nope' is configured");
}

TEST_F(Misbehave, InvalidTopicIsAnError) {
  EXPECT_THAT(Ask("bad-topic"), HasSubstr("other: invalid argument: topic 'bad..topic' has an empty token"));
}

TEST_F(Misbehave, ReplyWithoutReplyAddressIsAnError) {
  EXPECT_THAT(Ask("reply-no-inbox"), HasSubstr("has no reply address"));
}

TEST_F(Misbehave, SendAfterDisconnectIsAConnectionError) {
  EXPECT_EQ(Ask("disconnect"), "connection: client 'default' is disconnected");
}

TEST_F(Misbehave, IncomingMessageShowsTopicContentTypeMetadataData) {
  EXPECT_EQ(Ask("inspect", Metadata{{"a", "1"}, {"b", "2"}}, "text/x"),
            "topic=misbehave.in content-type=text/x metadata=a=1,b=2 data=inspect");
  EXPECT_EQ(Ask("inspect"), "topic=misbehave.in content-type=none metadata=none data=inspect");
}

TEST_F(Misbehave, RequestWithoutOptionsWaitsForOneReply) {
  auto answer = host_.host().Listen("default", "misbehave.svc", [this](const Message& m) {
    Message reply;
    reply.topic = m.reply_to;
    reply.data = Bytes::FromString("pong");
    (void)host_.host().Publish("default", reply);
  });
  ASSERT_OK(answer);
  EXPECT_EQ(Ask("echo-request"), "1: pong");
}

}  // namespace
}  // namespace ferry::testing
