// The NATS adapter against a real nats-server (Debian's nats-server) started
// on a free loopback port: the conformance suite, Ferry components on NATS,
// a plain cnats client talking to a running Ferry, and a server restart.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "brokers/conformance.h"
#include "brokers/nats/nats_broker.h"
#include "brokers/registry.h"
#include "support/cloudevents_checks.h"
#include "support/durability.h"
#include "support/ferry_process.h"
#include "support/restart_proof.h"
#include "support/host_fixture.h"
#include "support/server_process.h"
#include "support/two_hosts.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

ServerProcess& SharedNatsServer() {
  // One server per test process, stopped when the process exits; Start
  // does nothing while it runs.
  static ServerProcess server("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT",
                                                "-js", "-sd", "$DIR/js"});
  EXPECT_OK(server.Start());
  return server;
}

std::string NatsUrl(const ServerProcess& server) {
  return "nats://127.0.0.1:" + std::to_string(server.port());
}

BrokerTarget NatsCoreTarget() {
  return {.name = "NatsCore", .make = []() -> Result<std::unique_ptr<Broker>> {
            return MakeBroker(NatsUrl(SharedNatsServer()), {});
          }};
}

// Creates a file-backed stream over `subjects` unless it exists.
void EnsureStream(const ServerProcess& server, const std::string& name, const std::string& subjects) {
  natsConnection* conn = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, NatsUrl(server).c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, conn, nullptr), NATS_OK);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  const char* list[] = {subjects.c_str()};
  cfg.Subjects = list;
  cfg.SubjectsLen = 1;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&info, js, &cfg, nullptr, &code);
  EXPECT_TRUE(s == NATS_OK || code == JSStreamNameExistErr) << natsStatus_GetText(s) << " " << code;
  jsStreamInfo_Destroy(info);
  jsCtx_Destroy(js);
  natsConnection_Destroy(conn);
}

BrokerTarget NatsJetStreamTarget() {
  return {.name = "NatsJetStream",
          .make = []() -> Result<std::unique_ptr<Broker>> {
            static bool made = [] {
              EnsureStream(SharedNatsServer(), "JSCONF", "jsconf.>");
              return true;
            }();
            (void)made;
            return MakeBroker(NatsUrl(SharedNatsServer()), {{"jetstream", "jsconf.>"}});
          },
          .topic_prefix = "jsconf",
          .extensions = {{"stream", "JSCONF"}}};
}

INSTANTIATE_TEST_SUITE_P(Nats, BrokerConformance,
                         ::testing::Values(NatsCoreTarget(), NatsJetStreamTarget()), TargetName);

// A durable consumer keeps what arrives while no Ferry is running.
TEST(NatsJetStream, DurableConsumerDeliversWhatArrivedWhileTheHostWasDown) {
  const std::string stream = "JSD" + std::to_string(Clock::now().time_since_epoch().count() % 1000000);
  const std::string subject = "jsd." + stream + ".in";
  const std::string config = "[brokers]\ndefault = { url = \"" + NatsUrl(SharedNatsServer()) +
                             "\", jetstream = \"jsd.>\" }\n[[component]]\npath = \"$COMPONENTS/echo.wasm\"\n"
                             "subscribe = [\"" + subject + "\"]\nextensions = { stream = \"" + stream +
                             "\", durable = \"echo\" }\n";
  auto watcher = MakeBroker(NatsUrl(SharedNatsServer()), {{"jetstream", "jsd.>"}});
  ASSERT_OK(watcher);
  ASSERT_OK((*watcher)->Connect());
  Sink out;
  auto sub = (*watcher)->Subscribe({.pattern = "echo.out", .manual_ack = false}, out.Handler());
  ASSERT_OK(sub);
  {
    RunningHost host(config);
    ASSERT_OK(host.start_status());
    for (int i = 0; i < 20; ++i) ASSERT_OK(host.Publish(subject, "first" + std::to_string(i)));
    EXPECT_EQ(out.WaitFor(20), 20u);
  }
  for (int i = 0; i < 20; ++i)
    ASSERT_OK((*watcher)->Publish(TestMessage(subject, "second" + std::to_string(i)), Clock::now() + 5s));
  RunningHost again(config);
  ASSERT_OK(again.start_status());
  EXPECT_EQ(out.WaitFor(40), 40u);
  std::set<std::string> texts;
  for (const auto& t : out.Texts()) texts.insert(t);
  EXPECT_EQ(texts.size(), 40u);
}

// A second subscription naming an existing stream that does not cover its
// subject adds the subject to the stream (a 0.1.0 guest adding a channel);
// one the stream covers already leaves the stream as it is.
TEST(NatsJetStream, StreamGetsTheSubjectOfALaterSubscription) {
  const std::string id = std::to_string(Clock::now().time_since_epoch().count() % 100000000);
  auto broker = MakeBroker(NatsUrl(SharedNatsServer()), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink first, second;
  const std::string stream = "JSADD" + id;
  auto a = (*broker)->Subscribe({.pattern = "jsadd" + id + ".a", .manual_ack = false,
                                 .extensions = {{"stream", stream}}},
                                first.Handler());
  ASSERT_OK(a);
  auto b = (*broker)->Subscribe({.pattern = "jsadd" + id + ".b", .manual_ack = false,
                                 .extensions = {{"stream", stream}}},
                                second.Handler());
  ASSERT_OK(b);
  ASSERT_OK((*broker)->Publish(TestMessage("jsadd" + id + ".a", "to a"), Clock::now() + 5s));
  ASSERT_OK((*broker)->Publish(TestMessage("jsadd" + id + ".b", "to b"), Clock::now() + 5s));
  ASSERT_EQ(first.WaitFor(1), 1u);
  ASSERT_EQ(second.WaitFor(1), 1u);
  EXPECT_EQ(first.At(0).message.data.view(), "to a");
  EXPECT_EQ(second.At(0).message.data.view(), "to b");
}

// A JetStream publish carries a Nats-Msg-Id so that one sent again (its
// acknowledgement lost with a server) is stored once. A sender's own id is
// used as it is, so its duplicates are dropped by the stream; Ferry's own
// id is not shown to receivers.
TEST(NatsJetStream, MessageIdsDeduplicateAndFerrysOwnStayHidden) {
  const std::string id = std::to_string(Clock::now().time_since_epoch().count() % 100000000);
  const std::string subject = "jsid" + id + ".in";
  auto broker = MakeBroker(NatsUrl(SharedNatsServer()), {{"jetstream", subject}});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink sink;
  auto sub = (*broker)->Subscribe({.pattern = subject, .manual_ack = false,
                                   .extensions = {{"stream", "JSID" + id}}},
                                  sink.Handler());
  ASSERT_OK(sub);
  Message own = TestMessage(subject, "order-1");
  own.metadata.Set("Nats-Msg-Id", "order-1");
  ASSERT_OK((*broker)->Publish(own, Clock::now() + 5s));
  ASSERT_OK((*broker)->Publish(own, Clock::now() + 5s));
  ASSERT_OK((*broker)->Publish(TestMessage(subject, "plain"), Clock::now() + 5s));
  ASSERT_EQ(sink.WaitFor(2), 2u);
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(sink.size(), 2u) << "the second order-1 was stored again";
  EXPECT_EQ(sink.At(0).message.metadata.Get("Nats-Msg-Id"), "order-1");
  EXPECT_EQ(sink.At(1).message.data.view(), "plain");
  EXPECT_FALSE(sink.At(1).message.metadata.Get("Nats-Msg-Id").has_value());
}

// A failing handler is retried by JetStream (nak with delay) until it gives up.
TEST(NatsJetStream, FailedMessagesAreRedeliveredThenTerminated) {
  const std::string stream = "JSF" + std::to_string(Clock::now().time_since_epoch().count() % 1000000);
  RunningHost host("[brokers]\ndefault = { url = \"" + NatsUrl(SharedNatsServer()) +
                   "\", jetstream = \"jsf.>\" }\n[[component]]\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                   "subscribe = [\"jsf." + stream + "\"]\nmax_attempts = 3\nretry_delay_ms = 20\n"
                   "extensions = { stream = \"" + stream + "\" }\n");
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("jsf." + stream, "fail"));
  auto s = host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.received, 3u);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(host.StatsOf("misbehave").received, 3u);  // terminated: not delivered again
}

// On a broker with JetStream subjects, a subscription outside them is still
// core NATS, which cannot redeliver: Ferry keeps a failed message and tries
// it again itself instead of nacking it into nothing.
TEST(NatsJetStream, CoreSubscriptionOnAJetStreamBrokerIsRetriedByFerry) {
  RunningHost host("[brokers]\ndefault = { url = \"" + NatsUrl(SharedNatsServer()) +
                   "\", jetstream = \"jsx.>\" }\n[[component]]\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                   "subscribe = [\"core.retry\"]\nmax_attempts = 3\nretry_delay_ms = 20\n");
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("core.retry", "fail"));
  auto s = host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(s.failed, 3u);    // every attempt made (a nack into nothing made one)
  EXPECT_EQ(s.received, 3u);
}

// nats-server with file storage, killed mid-stream and restarted: every
// message the host accepted through JetStream is handled.
TEST(NatsJetStream, NoAcceptedMessageIsLostWhenTheServerIsKilled) {
  ServerProcess server("nats-server",
                       {"nats-server", "-a", "127.0.0.1", "-p", "$PORT", "-js", "-sd", "$DIR/js"});
  ASSERT_OK(server.Start());
  RunningHost host("[brokers]\ndefault = { url = \"" + NatsUrl(server) +
                   "\", jetstream = \"jk.in\", reconnect_wait_ms = 50 }\n"
                   "[[component]]\npath = \"$COMPONENTS/transformer.wasm\"\n"
                   "subscribe = [\"jk.in\"]\nqueue_group = \"t\"\nmax_attempts = 50\n"
                   "extensions = { stream = \"IN\" }\n");
  ASSERT_OK(host.start_status());
  std::set<std::string> accepted;
  auto publish = [&](int i) {
    const std::string body = "m" + std::to_string(i);
    if (host.Publish("jk.in", body).ok()) accepted.insert(body);
  };
  for (int i = 0; i < 100; ++i) publish(i);
  server.Kill();
  for (int i = 100; i < 110; ++i) publish(i);
  ASSERT_OK(server.Start());
  int i = 110;
  const auto until = Clock::now() + 30s;
  while (i < 200 && Clock::now() < until) {
    publish(i);
    if (accepted.count("m" + std::to_string(i))) ++i;
    else std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(i, 200) << "the host did not come back";
  // transform.out is not in a stream; count what the transformer saw by the
  // consumer's acknowledgements instead: every accepted message handled.
  auto s = host.WaitForStats("transformer", [&](const ComponentStats& s) {
    return s.handled >= accepted.size();
  });
  EXPECT_GE(s.handled, accepted.size());
  EXPECT_EQ(s.given_up, 0u);
}

// Reliability proof 7 on JetStream: nats-server (file storage) killed ten
// times while the echo runs under load; the echo's output goes to a stream
// too, read back by a durable consumer, and nothing accepted is lost.
TEST(NatsJetStream, TenKillsUnderLoadLoseNothing) {
  ServerProcess server("nats-server",
                       {"nats-server", "-a", "127.0.0.1", "-p", "$PORT", "-js", "-sd", "$DIR/js"});
  ASSERT_OK(server.Start());
  std::mutex mutex;
  std::map<std::string, int> out;
  auto reader = MakeBroker(NatsUrl(server), {{"reconnect_wait_ms", "50"}});
  ASSERT_OK(reader);
  ASSERT_OK((*reader)->Connect());
  // Made first, so the echo.out stream exists before the echo sends to it.
  auto counting = (*reader)->Subscribe(
      {.pattern = "echo.out", .queue_group = "counter", .manual_ack = true,
       .extensions = {{"stream", "NKOUT"}}},
      [&](Delivery d) {
        {
          std::lock_guard lock(mutex);
          ++out[std::string(d.message.data.view())];
        }
        (void)d.acker->Ack();
      });
  ASSERT_OK(counting);
  RunningHost host("[brokers]\ndefault = { url = \"" + NatsUrl(server) +
                   "\", jetstream = \"nk.in,echo.out\", reconnect_wait_ms = 50 }\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"nk.in\"]\n"
                   "queue_group = \"echo\"\nmax_attempts = 1000\nmax_retry_delay_ms = 500\n"
                   "extensions = { stream = \"NKIN\", ack_wait_ms = 2000 }\n");
  ASSERT_OK(host.start_status());
  ExpectRestartsLoseNothing({.label = "nats jetstream", .server = &server, .kill = true,
                             .publish = [&](const std::string& body) { return host.Publish("nk.in", body); },
                             .outputs = [&] {
                               std::lock_guard lock(mutex);
                               return out;
                             }});
}

// `ferry run x.wasm --broker URL`: one component on a real broker, no
// config file; a plain NATS client reaches it. A server that is not there is
// one line and exit 1.
TEST(NatsRun, ABrokerUrlNeedsNoConfigFile) {
  TempDir dir;
  const auto sock = dir.path() / "ctl.sock";
  const std::string url = NatsUrl(SharedNatsServer());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(FERRY_BINARY, "ferry", "run", Component("greeter").c_str(), "--subscribe", "cli.greet", "--broker",
            url.c_str(), "--control", sock.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 500 && !SocketAccepting(sock); ++i) std::this_thread::sleep_for(20ms);
  auto client = MakeBroker(url, {});
  ASSERT_OK(client);
  ASSERT_OK((*client)->Connect());
  auto replies = (*client)->Request(TestMessage("cli.greet", "nats"), {.timeout = 5s, .expected_replies = 1});
  ASSERT_OK(replies);
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ((*replies)[0].data.view(), "hello, nats");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  const std::string down = "nats://127.0.0.1:" + std::to_string(FreePort());
  const std::string cmd = std::string(FERRY_BINARY) + " run " + Component("greeter").string() + " --broker " +
                          down + " --control " + (dir.path() / "other.sock").string() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int code = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(code), 1);
  EXPECT_THAT(out, HasSubstr("cannot connect to " + down));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

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

// cnats reports a closed connection later, on its own thread. Those late
// callbacks must reach nothing: not a freed broker, nor a new broker that
// happens to live at the same address.
TEST(NatsBroker, LateCallbacksOfAClosedConnectionReachNoBroker) {
  const std::string url = NatsUrl(SharedNatsServer());
  for (int round = 0; round < 40; ++round) {
    {
      auto old = MakeBroker(url, {});
      ASSERT_OK(old);
      ASSERT_OK((*old)->Connect());
    }
    auto fresh = MakeBroker(url, {});
    ASSERT_OK(fresh);
    ASSERT_OK((*fresh)->Connect());
    std::this_thread::sleep_for(5ms);  // room for the old connection's callbacks
    ASSERT_EQ((*fresh)->State(), ConnectionState::kConnected) << "round " << round;
    ASSERT_OK((*fresh)->Publish(TestMessage("late.cb", "x"), Clock::now() + 1s));
  }
}

TEST(NatsBroker, ReconnectWaitDoublesUpToTheMaximum) {
  using std::chrono::milliseconds;
  EXPECT_EQ(NatsReconnectDelay(milliseconds(100), milliseconds(1000), 1), milliseconds(100));
  EXPECT_EQ(NatsReconnectDelay(milliseconds(100), milliseconds(1000), 2), milliseconds(200));
  EXPECT_EQ(NatsReconnectDelay(milliseconds(100), milliseconds(1000), 4), milliseconds(800));
  EXPECT_EQ(NatsReconnectDelay(milliseconds(100), milliseconds(1000), 5), milliseconds(1000));
  EXPECT_EQ(NatsReconnectDelay(milliseconds(100), milliseconds(1000), 1000), milliseconds(1000));
  auto o = NatsOptionsFrom("nats://h:1", {{"reconnect_wait_ms", "50"},
                                          {"max_reconnect_wait_ms", "800"}});
  ASSERT_OK(o);
  EXPECT_EQ(o->reconnect_wait, milliseconds(50));
  EXPECT_EQ(o->max_reconnect_wait, milliseconds(800));
}

// Metadata becomes NATS headers; what a header line cannot carry unchanged
// (unicode, empty values, line breaks, blanks, the adapter's own header
// names) travels percent-encoded in Ferry-Meta headers and arrives as sent.
TEST(NatsBroker, MetadataThatCannotBeAHeaderTravelsEncoded) {
  auto broker = MakeBroker(NatsUrl(SharedNatsServer()), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink sink;
  SubscribeOptions o;
  o.pattern = "hdr.check";
  auto sub = (*broker)->Subscribe(o, sink.Handler());
  ASSERT_OK(sub);
  Message m = TestMessage("hdr.check", "x");
  m.content_type = "text/plain";
  m.metadata = {{"fine-key", "any value: even colons"},
                {"two words", "v"},
                {"key:colon", "v"},
                {"k", "v\r\nFerry-Reply-To: elsewhere"},
                {"Ferry-Reply-To", "elsewhere"},
                {"Content-Type", "not the content type"},
                {"Ferry-Meta", "a=b"},
                {"empty", ""},
                {"after-empty", "still here"},
                {"padded", " v "},
                {"cl\xc3\xa9-\xf0\x9f\x9a\x80", "v\xc3\xa4lue 100%"}};
  ASSERT_OK((*broker)->Publish(m, Clock::now() + 1s));
  ASSERT_EQ(sink.WaitFor(1), 1u);
  const Message got = sink.At(0).message;
  EXPECT_EQ(got.content_type, m.content_type);
  EXPECT_TRUE(got.reply_to.empty());
  EXPECT_EQ(got.metadata.size(), m.metadata.size());
  for (const auto& [k, v] : m.metadata) EXPECT_EQ(got.metadata.Get(k), v) << k;
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
    host_ = std::make_unique<RunningHost>(
        ExamplesOnBroker("default = \"" + NatsUrl(SharedNatsServer()) + "\"", "nats"));
    ASSERT_OK(host_->start_status());
  }
  std::unique_ptr<RunningHost> host_;
};

TEST_F(NatsHost, EchoKeepsDataContentTypeAndMetadata) {
  ExpectEchoRoundTrip(*host_, "nats.echo.in", "over nats");
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

// CloudEvents over NATS: the binding's headers are the ce- keys themselves.
// A plain cnats client's event reaches a component with its ce- keys, and a
// component stamping its sends (cloudevents_type) puts the event's headers
// on the wire under the same names.
TEST(NatsCloudEvents, CeHeadersReachComponentsAndLeaveAsTheyAre) {
  const std::string url = NatsUrl(SharedNatsServer());
  RunningHost h("[brokers]\ndefault = \"" + url + "\"\n" + CloudEventsComponents("nce"));
  ASSERT_OK(h.start_status());
  natsConnection* conn = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, url.c_str()), NATS_OK);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, conn, "echo.out"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(conn), NATS_OK);
  auto event = [&](const char* subject, const char* body) {
    natsMsg* msg = nullptr;
    ASSERT_EQ(natsMsg_Create(&msg, subject, nullptr, body, static_cast<int>(std::strlen(body))), NATS_OK);
    for (auto [k, v] : {std::pair{"ce-specversion", "1.0"}, std::pair{"ce-id", "ev-1"},
                        std::pair{"ce-source", "/sensors/7"}, std::pair{"ce-type", "com.example.reading"}})
      ASSERT_EQ(natsMsgHeader_Set(msg, k, v), NATS_OK);
    ASSERT_EQ(natsConnection_PublishMsg(conn, msg), NATS_OK);
    natsMsg_Destroy(msg);
  };
  Inbox& inspected = h.Listen("misbehave.out");
  event("nce.inspect", "inspect");
  auto got = inspected.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  ExpectTheTestEventAsCeKeys(std::string(got[0].data.view()));

  event("nce.echo", "hi");
  natsMsg* out = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&out, sub, 20000), NATS_OK);
  auto header = [&](const char* key) {
    const char* value = nullptr;
    return natsMsgHeader_Get(out, key, &value) == NATS_OK ? std::string(value) : std::string("<none>");
  };
  EXPECT_EQ(header("ce-specversion"), "1.0");
  EXPECT_EQ(header("ce-type"), "com.example.echoed");
  EXPECT_EQ(header("ce-source"), "/ferry/echo");
  EXPECT_NE(header("ce-id"), "ev-1") << "a new event, a new id";
  EXPECT_THAT(header("ce-time"), ::testing::ContainsRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"));
  natsMsg_Destroy(out);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(conn);
}

// Two `ferry run` processes share a queue group: each message is handled
// once, and both take part.
TEST(NatsQueueGroup, TwoFerryProcessesSplitTheMessages) {
  const std::string url = NatsUrl(SharedNatsServer());
  ExpectTwoHostsShareTheWork("default = \"" + url + "\"", url, {}, "qg.in", 200);
}

// Core NATS cannot deliver a message again: Ferry retries it itself, then
// sends it to the dead-letter topic, so a failure drops nothing.
TEST(NatsCore, FailedMessagesAreRetriedByFerryThenDeadLettered) {
  RunningHost host("[brokers]\ndefault = \"" + NatsUrl(SharedNatsServer()) + "\"\n"
                   "[[component]]\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                   "subscribe = [\"core.retry\"]\nmax_attempts = 3\nretry_delay_ms = 10\n"
                   "dead_letter = \"core.dead\"\n");
  ASSERT_OK(host.start_status());
  Inbox& dead = host.Listen("core.dead");
  ASSERT_OK(host.Publish("core.retry", "fail"));
  auto got = dead.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].metadata.Get("ferry-attempts"), "3");
  auto s = host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.dead_lettered == 1; });
  EXPECT_EQ(s.failed, 3u);
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

namespace ferry::testing {
namespace {

// Credentials from the environment reach the server and never the log.
TEST(NatsCredentials, PasswordFromTheEnvironmentAndAClearErrorWhenWrong) {
  ServerProcess server("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT", "--user",
                                       "ferry", "--pass", "s3cret-pass"});
  ASSERT_OK(server.Start());
  ::setenv("FERRY_NATS_PASSWORD", "s3cret-pass", 1);
  auto good = MakeBroker(NatsUrl(server), {{"user", "ferry"}});
  ::unsetenv("FERRY_NATS_PASSWORD");
  ASSERT_OK(good);
  EXPECT_OK((*good)->Connect());
  auto bad = MakeBroker(NatsUrl(server), {{"user", "ferry"}, {"password", "wrong-pass"}});
  ASSERT_OK(bad);
  Status s = (*bad)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect"));
  EXPECT_THAT(s.error().message(), ::testing::Not(HasSubstr("wrong-pass")));
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// Reliability proofs 1 and 4 on NATS JetStream (docs/RELIABILITY.md).
class NatsDurability : public ::testing::TestWithParam<int> {};

TEST_P(NatsDurability, AHostStoppedMidStreamLosesNothing) {
  const std::string url = NatsUrl(SharedNatsServer());
  const std::string id = std::to_string(Clock::now().time_since_epoch().count() % 100000000);
  DurabilityRun run;
  run.topic = "dur" + id + ".in";
  run.brokers_toml = "default = { url = \"" + url + "\", jetstream = \"" + run.topic + "\" }";
  run.broker_url = url;
  run.extensions = "{ stream = \"DUR" + id + "\", ack_wait_ms = 1000 }";
  run.stop_signal = GetParam();
  ExpectNoLoss(run, "nats jetstream");
}

INSTANTIATE_TEST_SUITE_P(Signals, NatsDurability, ::testing::Values(SIGKILL, SIGTERM),
                         [](const auto& info) { return info.param == SIGKILL ? "Kill9" : "Sigterm"; });

}  // namespace
}  // namespace ferry::testing
