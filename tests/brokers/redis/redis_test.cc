// The Redis adapter against a real redis-server (Debian's redis-server) on a
// free loopback port: the envelope, the conformance suite in both modes,
// Ferry components over Redis, redis-cli talking to a running Ferry, two
// Ferry processes in one consumer group, dead-lettering, and a restart with
// AOF persistence that loses no accepted Streams message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "brokers/conformance.h"
#include "brokers/redis/redis_wire.h"
#include "brokers/registry.h"
#include "support/durability.h"
#include "support/ferry_process.h"
#include "support/restart_proof.h"
#include "support/host_fixture.h"
#include "support/server_process.h"
#include "support/shell.h"
#include "support/two_hosts.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::vector<std::string> RedisArgs(bool persistent) {
  std::vector<std::string> args{"redis-server", "--port", "$PORT", "--bind", "127.0.0.1",
                                "--dir", "$DIR", "--save", ""};
  if (persistent) args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
  return args;
}

ServerProcess& SharedRedis() {
  // One server per test process, stopped when the process exits; Start
  // does nothing while it runs.
  static ServerProcess server("redis-server", RedisArgs(false));
  EXPECT_OK(server.Start());
  return server;
}

std::string RedisUrl(const ServerProcess& server) {
  return "redis://127.0.0.1:" + std::to_string(server.port());
}

// The bodies "m<digits>" in a stream, each with the number of entries
// carrying it.
std::map<std::string, int> StreamBodies(const ServerProcess& server, const std::string& stream) {
  std::map<std::string, int> seen;
  const std::string all =
      Shell("redis-cli -h 127.0.0.1 -p " + std::to_string(server.port()) + " XRANGE " + stream + " - +");
  std::size_t at = 0;
  while ((at = all.find('m', at)) != std::string::npos) {
    const std::size_t end = all.find('\n', at);
    const std::string token = all.substr(at, end - at);
    if (token.size() > 1 && std::all_of(token.begin() + 1, token.end(), ::isdigit)) ++seen[token];
    at = end == std::string::npos ? all.size() : end;
  }
  return seen;
}

std::string Cli(const std::string& args) {
  return Shell("redis-cli -h 127.0.0.1 -p " + std::to_string(SharedRedis().port()) + " " + args);
}

TEST(RedisWire, EnvelopeCarriesMetadataAndPlainPayloadsStayPlain) {
  Message m;
  m.topic = "t";
  m.data = Bytes::FromString(std::string("bin\0ary", 7));
  m.content_type = "application/json";
  m.metadata = {{"k", "v"}};
  m.reply_to = "_INBOX.x.1";
  Message back = redis::Decode("t", redis::Encode(m));
  EXPECT_EQ(back.data.view(), m.data.view());
  EXPECT_EQ(back.content_type, m.content_type);
  EXPECT_EQ(back.metadata, m.metadata);
  EXPECT_EQ(back.reply_to, m.reply_to);
  Message plain;
  plain.data = Bytes::FromString("just text");
  EXPECT_EQ(redis::Encode(plain), "just text");
  EXPECT_EQ(redis::Decode("t", "just text").data.view(), "just text");
  // A truncated envelope is delivered as the bytes it is.
  const std::string cut = redis::Encode(m).substr(0, 12);
  EXPECT_EQ(redis::Decode("t", cut).data.view(), cut);
  EXPECT_EQ(redis::ToGlob("a.*.c"), "a.*.c");
  EXPECT_EQ(redis::ToGlob("a.>"), "a.*");
  EXPECT_EQ(redis::ToGlob("we?rd.[x]"), "we\\?rd.\\[x\\]");
}

BrokerTarget PubSubTarget() {
  return {.name = "RedisPubSub", .make = []() -> Result<std::unique_ptr<Broker>> {
            return MakeBroker(RedisUrl(SharedRedis()), {});
          }};
}
BrokerTarget StreamsTarget() {
  // A new consumer starts reading on its own thread: give it a moment.
  return {.name = "RedisStreams",
          .make = []() -> Result<std::unique_ptr<Broker>> {
            return MakeBroker(RedisUrl(SharedRedis()), {{"publish", "streams"}});
          },
          .settle = std::chrono::milliseconds(100)};
}

INSTANTIATE_TEST_SUITE_P(Redis, BrokerConformance,
                         ::testing::Values(PubSubTarget(), StreamsTarget()), TargetName);

TEST(RedisBroker, DownServerAndBadSettingsAreOneLineErrors) {
  auto broker = MakeBroker("redis://:secret@127.0.0.1:" + std::to_string(FreePort()), {});
  ASSERT_OK(broker);
  Status s = (*broker)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection);
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect to redis://127.0.0.1:"));
  EXPECT_THAT(s.error().message(), ::testing::Not(HasSubstr("secret")));
  EXPECT_THAT(MakeBroker("rediss://h:6379", {}).error().message(), HasSubstr("no TLS"));
  EXPECT_THAT(MakeBroker("redis://h", {{"publish", "carrier"}}).error().message(),
              HasSubstr("publish: expected"));
}

std::string StreamsHost(const std::string& extra_components) {
  return "[brokers]\ndefault = { url = \"" + RedisUrl(SharedRedis()) +
         "\", publish = \"streams\", claim_idle_ms = 1000 }\n" + extra_components;
}

TEST(RedisHost, ComponentsOverPubSubAndStreams) {
  for (const std::string& mode : {"pubsub", "streams"}) {
    SCOPED_TRACE(mode);
    RunningHost host(ExamplesOnBroker(
        "default = { url = \"" + RedisUrl(SharedRedis()) + "\", publish = \"" + mode + "\" }", "redis"));
    ASSERT_OK(host.start_status());
    // Listen reads echo.out in the broker's mode.
    ExpectEchoRoundTrip(host, "redis.echo.in", "over redis " + mode);
    Message m;
    m.topic = "redis.greet";
    m.data = Bytes::FromString("world");
    auto replies = host.host().Request("default", m, 5s, 2);
    ASSERT_OK(replies);
    EXPECT_EQ(replies->size(), 2u) << mode;
    // Nobody answers: the interface's timeout, after the time asked for.
    m.topic = "redis.nobody.home";
    const auto asked = Clock::now();
    auto none = host.host().Request("default", m, 300ms, 1);
    ASSERT_FALSE(none.ok()) << mode;
    EXPECT_EQ(none.error().code(), ErrorCode::kTimeout) << mode;
    EXPECT_GE(Clock::now() - asked, 250ms) << mode;
  }
}

TEST(RedisHost, RedisCliTalksToFerry) {
  RunningHost host("[brokers]\ndefault = \"" + RedisUrl(SharedRedis()) + "\"\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"cli.echo.in\"]\n");
  ASSERT_OK(host.start_status());
  std::string received;
  std::thread sub([&] { received = Cli("--no-raw SUBSCRIBE echo.out & sleep 3; kill $!"); });
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Cli("PUBLISH cli.echo.in 'from redis-cli'"), "1\n");
  sub.join();
  EXPECT_THAT(received, HasSubstr("from redis-cli"));

  RunningHost streams(StreamsHost("[[component]]\npath = \"$COMPONENTS/echo.wasm\"\n"
                                  "subscribe = [\"cli.stream.in\"]\nqueue_group = \"echoes\"\n"));
  ASSERT_OK(streams.start_status());
  EXPECT_THAT(Cli("XADD cli.stream.in '*' data 'into a stream' m:who redis-cli"), HasSubstr("-"));
  std::string out;
  for (int i = 0; i < 100 && out.find("into a stream") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
    out = Cli("XRANGE echo.out - +");
  }
  EXPECT_THAT(out, HasSubstr("into a stream"));
  EXPECT_THAT(out, HasSubstr("redis-cli"));
  // Handled entries are acknowledged: nothing stays pending in the group.
  std::string pending;
  for (int i = 0; i < 50; ++i) {
    pending = Cli("XPENDING cli.stream.in echoes");
    if (pending.rfind("0\n", 0) == 0) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(pending.substr(0, 2), "0\n") << pending;
}

TEST(RedisHost, GivenUpEntriesGoToTheDeadLetterStream) {
  // A topic of its own, so an earlier run's dead letters do not count.
  const std::string topic = "dl" + std::to_string(Clock::now().time_since_epoch().count()) + ".in";
  RunningHost host(StreamsHost("[[component]]\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                               "subscribe = [\"" + topic + "\"]\nqueue_group = \"dl\"\n"
                               "max_attempts = 2\nretry_delay_ms = 10\n"));
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish(topic, "fail"));
  std::string dead;
  for (int i = 0; i < 100 && dead.find("fail") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
    dead = Cli("XRANGE " + topic + ".dead - +");
  }
  EXPECT_THAT(dead, HasSubstr("fail"));
  EXPECT_THAT(dead, HasSubstr("ferry-attempts"));
  auto stats = host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(stats.failed, 2u);
  EXPECT_EQ(Cli("XLEN " + topic + ".dead"), "1\n");
}

TEST(RedisQueueGroup, TwoFerryProcessesShareAConsumerGroup) {
  const std::string url = RedisUrl(SharedRedis());
  ExpectTwoHostsShareTheWork("default = { url = \"" + url + "\", publish = \"streams\" }", url,
                             {{"publish", "streams"}}, "rqg.in", 100);
}

// redis-server with AOF (fsync always), killed mid-stream and restarted:
// every Streams message the host accepted is handled.
TEST(RedisRestart, NoAcceptedStreamsMessageIsLost) {
  ServerProcess server("redis-server", RedisArgs(true));
  ASSERT_OK(server.Start());
  const std::string url = RedisUrl(server);
  RunningHost host("[brokers]\ndefault = { url = \"" + url +
                   "\", publish = \"streams\", claim_idle_ms = 1000 }\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"rr.in\"]\n"
                   // Attempts that fail while the server is down count: leave room.
                   "queue_group = \"echo\"\nmax_attempts = 50\n");
  ASSERT_OK(host.start_status());
  std::set<std::string> accepted;
  auto publish = [&](int i) {
    const std::string body = "m" + std::to_string(i);
    if (host.Publish("rr.in", body).ok()) accepted.insert(body);
  };
  for (int i = 0; i < 100; ++i) publish(i);
  server.Kill();
  for (int i = 100; i < 110; ++i) {  // refused at once while down
    const auto start = Clock::now();
    Status down = host.Publish("rr.in", "down" + std::to_string(i));
    ASSERT_FALSE(down.ok());
    EXPECT_EQ(down.error().code(), ErrorCode::kConnection) << down.error().message();
    EXPECT_LT(Clock::now() - start, 2s);
  }
  ASSERT_OK(server.Start());
  int i = 110;
  const auto until = Clock::now() + 30s;
  while (i < 200 && Clock::now() < until) {
    publish(i);
    if (accepted.count("m" + std::to_string(i))) ++i;
    else std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(i, 200) << "the host did not come back";
  // The echo component wrote its output to the echo.out stream.
  auto reader = MakeBroker(url, {});
  ASSERT_OK(reader);
  ExpectEveryAcceptedCameOut(accepted, [&] {
    std::vector<std::string> bodies;
    for (const auto& [body, n] : StreamBodies(server, "echo.out")) bodies.push_back(body);
    return bodies;
  }, 30s);
  EXPECT_GE(accepted.size(), 190u);
}

// Reliability proof 7 on Redis Streams: the server killed ten times while
// the echo runs under load (AOF, fsync always), nothing accepted lost.
TEST(RedisRestart, TenKillsUnderLoadLoseNothing) {
  ServerProcess server("redis-server", RedisArgs(true));
  ASSERT_OK(server.Start());
  RunningHost host("[brokers]\ndefault = { url = \"" + RedisUrl(server) +
                   "\", publish = \"streams\", claim_idle_ms = 1000 }\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"rk.in\"]\n"
                   "queue_group = \"echo\"\nmax_attempts = 1000\nmax_retry_delay_ms = 500\n");
  ASSERT_OK(host.start_status());
  ExpectRestartsLoseNothing({.label = "redis streams", .server = &server, .kill = true,
                             .publish = [&](const std::string& body) { return host.Publish("rk.in", body); },
                             .outputs = [&] { return StreamBodies(server, "echo.out"); }});
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

TEST(RedisCredentials, PasswordFromTheEnvironmentAndAClearErrorWhenWrong) {
  ServerProcess server("redis-server", {"redis-server", "--port", "$PORT", "--bind", "127.0.0.1",
                                        "--dir", "$DIR", "--save", "", "--requirepass", "s3cret-pass"});
  ASSERT_OK(server.Start());
  ::setenv("FERRY_REDIS_PASSWORD", "s3cret-pass", 1);
  auto good = MakeBroker(RedisUrl(server), {});
  ::unsetenv("FERRY_REDIS_PASSWORD");
  ASSERT_OK(good);
  ASSERT_OK((*good)->Connect());
  EXPECT_OK((*good)->Publish(TestMessage("auth.ok", "x"), Clock::now() + 5s));
  auto bad = MakeBroker("redis://:wrong-pass@127.0.0.1:" + std::to_string(server.port()), {});
  ASSERT_OK(bad);
  Status s = (*bad)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(s.error().message(), HasSubstr("cannot log in"));
  EXPECT_THAT(s.error().message(), ::testing::Not(HasSubstr("wrong-pass")));
  EXPECT_EQ((*bad)->DisplayUrl().find("wrong-pass"), std::string::npos);
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// Reliability proofs 1 and 4 on Redis Streams (docs/RELIABILITY.md).
class RedisDurability : public ::testing::TestWithParam<int> {};

TEST_P(RedisDurability, AHostStoppedMidStreamLosesNothing) {
  const std::string url = RedisUrl(SharedRedis());
  DurabilityRun run;
  run.brokers_toml = "default = { url = \"" + url + "\", publish = \"streams\", claim_idle_ms = 500 }";
  run.broker_url = url;
  run.topic = "dur" + std::to_string(Clock::now().time_since_epoch().count() % 100000000) + ".in";
  run.counter_extensions = {{"mode", "streams"}};
  run.stop_signal = GetParam();
  ExpectNoLoss(run, "redis streams");
}

INSTANTIATE_TEST_SUITE_P(Signals, RedisDurability, ::testing::Values(SIGKILL, SIGTERM),
                         [](const auto& info) { return info.param == SIGKILL ? "Kill9" : "Sigterm"; });

TEST(RedisBroker, StalledServerFailsSendInsteadOfHanging) {
  auto broker = MakeBroker(RedisUrl(SharedRedis()), {{"command_timeout_ms", "300"}});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  ASSERT_OK((*broker)->Publish(TestMessage("stall.before", "x"), Clock::now() + 5s));
  // The server stops answering every client for 1.5 s.
  ASSERT_THAT(Cli("CLIENT PAUSE 1500 ALL"), HasSubstr("OK"));
  const auto start = Clock::now();
  Status stalled = (*broker)->Publish(TestMessage("stall.during", "x"), Clock::now() + 10s);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(stalled.ok());
  EXPECT_EQ(stalled.error().code(), ErrorCode::kConnection);
  EXPECT_THAT(stalled.error().message(), HasSubstr("no answer within 300 ms"));
  EXPECT_LT(took, 1200ms);
  // Once the pause is over the next send reconnects and goes through.
  Status after = Status(Error::Connection("not tried"));
  for (int i = 0; i < 100 && !after.ok(); ++i) {
    std::this_thread::sleep_for(100ms);
    after = (*broker)->Publish(TestMessage("stall.after", "x"), Clock::now() + 5s);
  }
  EXPECT_OK(after);
  EXPECT_THAT(MakeBroker("redis://h", {{"command_timeout_ms", "0"}}).error().message(),
              HasSubstr("command_timeout_ms: expected a positive"));
}

TEST(RedisBroker, CloseStopsDeliveringInBothModes) {
  for (const std::string& mode : {"pubsub", "streams"}) {
    auto a = MakeBroker(RedisUrl(SharedRedis()), {{"publish", mode}});
    auto b = MakeBroker(RedisUrl(SharedRedis()), {{"publish", mode}});
    ASSERT_OK(a);
    ASSERT_OK(b);
    ASSERT_OK((*a)->Connect());
    ASSERT_OK((*b)->Connect());
    const std::string topic = "closing." + mode;
    Sink sink;
    auto sub = (*b)->Subscribe({.pattern = topic, .manual_ack = false}, sink.Handler());
    ASSERT_OK(sub);
    ASSERT_OK((*a)->Publish(TestMessage(topic, "before"), Clock::now() + 5s));
    ASSERT_EQ(sink.WaitFor(1), 1u) << mode;
    (*b)->Close();
    ASSERT_OK((*a)->Publish(TestMessage(topic, "after"), Clock::now() + 5s));
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(sink.size(), 1u) << mode;
  }
}

// A retry that falls due while the server is down waits for the server and
// is delivered once it is back (AOF keeps the entry and the pending list).
TEST(RedisRestart, RetryDueWhileTheServerIsDownIsDeliveredAfterwards) {
  ServerProcess server("redis-server", RedisArgs(true));
  ASSERT_OK(server.Start());
  // claim_idle is long: only the retry can bring the entry back in time.
  auto broker = MakeBroker(RedisUrl(server), {{"publish", "streams"}, {"claim_idle_ms", "60000"}});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink sink;
  auto sub = (*broker)->Subscribe({.pattern = "rq.in", .manual_ack = true}, sink.Handler());
  ASSERT_OK(sub);
  ASSERT_OK((*broker)->Publish(TestMessage("rq.in", "again"), Clock::now() + 5s));
  ASSERT_EQ(sink.WaitFor(1), 1u);
  server.Kill();
  ASSERT_OK(sink.At(0).acker->Nack(10ms));
  std::this_thread::sleep_for(500ms);
  ASSERT_OK(server.Start());
  ASSERT_EQ(sink.WaitFor(2, 15s), 2u) << server.LogTail();
  EXPECT_EQ(sink.At(1).attempt, 2u);
  EXPECT_EQ(sink.At(1).message.data.view(), "again");
  EXPECT_OK(sink.At(1).acker->Ack());
}

}  // namespace
}  // namespace ferry::testing
