// The NATS adapter against a real nats-server (Debian's nats-server) started
// on a free loopback port: the conformance suite, Ferry components on NATS,
// a plain cnats client talking to a running Ferry, and a server restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <thread>

#include "brokers/conformance.h"
#include "brokers/nats/nats_broker.h"
#include "brokers/registry.h"
#include "support/ferry_process.h"
#include "support/host_fixture.h"
#include "support/server_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

ServerProcess& SharedNatsServer() {
  static ServerProcess* server = [] {
    auto* s = new ServerProcess("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT"});
    Status started = s->Start();
    EXPECT_TRUE(started.ok()) << started.error().message();
    return s;
  }();
  return *server;
}

std::string NatsUrl(const ServerProcess& server) {
  return "nats://127.0.0.1:" + std::to_string(server.port());
}

BrokerTarget NatsCoreTarget() {
  return {.name = "NatsCore", .make = []() -> Result<std::unique_ptr<Broker>> {
            return MakeBroker(NatsUrl(SharedNatsServer()), {});
          }};
}

INSTANTIATE_TEST_SUITE_P(Nats, BrokerConformance, ::testing::Values(NatsCoreTarget()), TargetName);

TEST(NatsBroker, DownServerIsAOneLineConnectionErrorNamingTheUrl) {
  auto broker = MakeBroker("nats://user:secret@127.0.0.1:" + std::to_string(FreePort()), {});
  ASSERT_OK(broker);
  Status s = (*broker)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection);
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect to nats://127.0.0.1:"));
  EXPECT_THAT(s.error().message(), ::testing::Not(HasSubstr("secret")));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
}

TEST(NatsBroker, UnknownOptionsAreNamed) {
  auto broker = MakeBroker("nats://127.0.0.1:4222", {{"colour", "blue"}});
  ASSERT_FALSE(broker.ok());
  EXPECT_THAT(broker.error().message(), HasSubstr("unknown option 'colour'"));
}

// The example components on NATS, as a user would run them.
class NatsHost : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<RunningHost>("[brokers]\ndefault = \"" + NatsUrl(SharedNatsServer()) +
                                          "\"\n"
                                          "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\n"
                                          "subscribe = [\"nats.echo.in\"]\n"
                                          "[[component]]\npath = \"$COMPONENTS/greeter.wasm\"\n"
                                          "subscribe = [\"nats.greet\"]\n"
                                          "[[component]]\npath = \"$COMPONENTS/shouter.wasm\"\n"
                                          "subscribe = [\"nats.greet\"]\n");
    ASSERT_OK(host_->start_status());
  }
  std::unique_ptr<RunningHost> host_;
};

TEST_F(NatsHost, EchoKeepsDataContentTypeAndMetadata) {
  Inbox& out = host_->Listen("echo.out");
  ASSERT_OK(host_->Publish("nats.echo.in", "over nats", {{"trace", "t-1"}}, "text/plain"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "over nats");
  EXPECT_EQ(got[0].content_type, "text/plain");
  EXPECT_EQ(got[0].metadata.Get("trace"), "t-1");
}

TEST_F(NatsHost, RequestCollectsRepliesFromTwoComponents) {
  Message m;
  m.topic = "nats.greet";
  m.data = Bytes::FromString("world");
  auto replies = host_->host().Request("default", m, 5s, 2);
  ASSERT_OK(replies);
  std::vector<std::string> texts;
  for (const Message& r : *replies) texts.emplace_back(r.data.view());
  EXPECT_THAT(texts, ::testing::UnorderedElementsAre("hello, world", "HELLO, WORLD"));
  auto none = host_->host().Request("default", [] {
    Message q;
    q.topic = "nats.nobody";
    return q;
  }(), 300ms, 1);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kTimeout);
}

// A program that is not Ferry, on cnats directly, publishes into a running
// Ferry and reads what it sends.
TEST_F(NatsHost, PlainNatsClientTalksToFerry) {
  natsConnection* conn = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, NatsUrl(SharedNatsServer()).c_str()), NATS_OK);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, conn, "echo.out"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(conn), NATS_OK);
  natsMsg* msg = nullptr;
  ASSERT_EQ(natsMsg_Create(&msg, "nats.echo.in", nullptr, "from cnats", 10), NATS_OK);
  ASSERT_EQ(natsMsgHeader_Set(msg, "origin", "plain-client"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishMsg(conn, msg), NATS_OK);
  natsMsg_Destroy(msg);
  natsMsg* got = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&got, sub, 10000), NATS_OK);
  EXPECT_EQ(std::string(natsMsg_GetData(got), natsMsg_GetDataLength(got)), "from cnats");
  const char* origin = nullptr;
  EXPECT_EQ(natsMsgHeader_Get(got, "origin", &origin), NATS_OK);
  EXPECT_STREQ(origin, "plain-client");
  natsMsg_Destroy(got);
  // And a cnats request is answered by the greeter component.
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, conn, "nats.greet", "cnats", 10000), NATS_OK);
  const std::string answer(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
  EXPECT_TRUE(answer == "hello, cnats" || answer == "HELLO, CNATS") << answer;
  natsMsg_Destroy(reply);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(conn);
}

// Two `ferry run` processes share a queue group: each message is handled
// once, and both take part.
TEST(NatsQueueGroup, TwoFerryProcessesSplitTheMessages) {
  const std::string broker = "[brokers]\ndefault = \"" + NatsUrl(SharedNatsServer()) + "\"\n";
  FerryProcess a(broker + "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\n"
                          "subscribe = [\"qg.in\"]\nqueue_group = \"workers\"\n");
  FerryProcess b(broker + "[[component]]\npath = \"$COMPONENTS/transformer.wasm\"\n"
                          "subscribe = [\"qg.in\"]\nqueue_group = \"workers\"\n");
  ASSERT_OK(a.Start());
  ASSERT_OK(b.Start());
  auto broker_conn = MakeBroker(NatsUrl(SharedNatsServer()), {});
  ASSERT_OK(broker_conn);
  Broker& nats = **broker_conn;
  ASSERT_OK(nats.Connect());
  Sink echoed, transformed;
  auto s1 = nats.Subscribe({.pattern = "echo.out", .manual_ack = false}, echoed.Handler());
  auto s2 = nats.Subscribe({.pattern = "transform.out", .manual_ack = false}, transformed.Handler());
  ASSERT_OK(s1);
  ASSERT_OK(s2);
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i)
    ASSERT_OK(nats.Publish(TestMessage("qg.in", "m" + std::to_string(i)), Clock::now() + 5s));
  const auto until = Clock::now() + 20s;
  while (echoed.size() + transformed.size() < kCount && Clock::now() < until)
    std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(200ms);  // a duplicate would show up now
  EXPECT_EQ(echoed.size() + transformed.size(), static_cast<std::size_t>(kCount));
  EXPECT_GT(echoed.size(), 0u);
  EXPECT_GT(transformed.size(), 0u);
  EXPECT_EQ(a.Stop(), 0) << a.Log();
  EXPECT_EQ(b.Stop(), 0) << b.Log();
}

// A server of its own, killed and started again on the same port.
TEST(NatsRestart, HostRecoversAfterTheServerComesBack) {
  ServerProcess server("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT"});
  ASSERT_OK(server.Start());
  RunningHost host("[brokers]\ndefault = { url = \"" + NatsUrl(server) +
                   "\", reconnect_wait_ms = 50 }\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"r.in\"]\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("echo.out");
  ASSERT_OK(host.Publish("r.in", "before"));
  ASSERT_EQ(out.WaitFor(1).size(), 1u);

  server.Kill();
  // While the server is down, publishing fails at once instead of hanging.
  Status down = Status::Ok();
  for (int i = 0; i < 200 && down.ok(); ++i) {
    down = host.Publish("r.in", "while down");
    if (down.ok()) std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code(), ErrorCode::kConnection);

  ASSERT_OK(server.Start());
  // Subscriptions come back by themselves.
  Status up = down;
  for (int i = 0; i < 500 && !up.ok(); ++i) {
    std::this_thread::sleep_for(20ms);
    up = host.Publish("r.in", "after");
  }
  ASSERT_OK(up);
  auto seen_after = [&] {
    for (const Message& m : out.Snapshot())
      if (Text(m) == "after") return true;
    return false;
  };
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!seen_after() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
    if (!seen_after()) (void)host.Publish("r.in", "after");
  }
  const bool seen = seen_after();
  std::string all;
  for (const Message& m : out.Snapshot()) all += Text(m) + ";";
  EXPECT_TRUE(seen) << all;
}

}  // namespace
}  // namespace ferry::testing
