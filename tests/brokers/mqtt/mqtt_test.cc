// The MQTT adapter against a real Mosquitto (Debian's mosquitto) on a free
// loopback port: topic mapping, the conformance suite, Ferry components over
// MQTT, mosquitto_pub/mosquitto_sub talking to a running Ferry, two Ferry
// processes sharing a subscription, and a server restart with persistence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "brokers/conformance.h"
#include "brokers/mqtt/mqtt_topics.h"
#include "brokers/registry.h"
#include "core/topic.h"
#include "support/ferry_process.h"
#include "support/mosquitto_conf.h"
#include "support/cloudevents_checks.h"
#include "support/host_fixture.h"
#include "support/restart_proof.h"
#include "support/server_process.h"
#include "support/shell.h"
#include "support/two_hosts.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

ServerProcess& SharedMosquitto() {
  // One server per test process, stopped when the process exits; Start
  // does nothing while it runs.
  static ServerProcess server("mosquitto", {"mosquitto", "-p", "$PORT"});
  EXPECT_OK(server.Start());
  return server;
}

std::string MqttUrl(const ServerProcess& server) {
  return "mqtt://127.0.0.1:" + std::to_string(server.port());
}

TEST(MqttTopics, MapBothWays) {
  EXPECT_EQ(*mqtt::ToMqttTopic("sensors.kitchen.temp"), "sensors/kitchen/temp");
  EXPECT_EQ(*mqtt::ToMqttFilter("sensors.*.temp"), "sensors/+/temp");
  EXPECT_EQ(*mqtt::ToMqttFilter("sensors.>"), "sensors/#");
  EXPECT_EQ(*mqtt::ToMqttFilter("$SYS.>"), "$SYS/#");
  EXPECT_EQ(mqtt::FromMqttTopic("sensors/kitchen/temp"), "sensors.kitchen.temp");
  EXPECT_THAT(mqtt::ToMqttTopic("a.b/c").error().message(), HasSubstr("which MQTT reserves"));
  EXPECT_THAT(mqtt::ToMqttTopic("a.#").error().message(), HasSubstr("which MQTT reserves"));
  EXPECT_THAT(mqtt::ToMqttTopic("a.%2B").error().message(), HasSubstr("cannot hold"));
  EXPECT_THAT(mqtt::ToMqttTopic("$SYS.x").error().message(), HasSubstr("reserves for the server"));
  EXPECT_THAT(mqtt::ToMqttFilter("$share.g.x").error().message(), HasSubstr("queue group"));
  EXPECT_FALSE(mqtt::ToMqttTopic("a..b").ok());
  EXPECT_FALSE(mqtt::ValidateShareGroup("a/b").ok());
}

TEST(MqttTopics, MqttTopicsFerryCannotSpellAreEscapedAndMapBack) {
  for (const std::string t : {"v1.2/x", "/lead", "trail/", "a//b", "100%/x", "a b/*/>", "x*y"}) {
    const std::string ferry = mqtt::FromMqttTopic(t);
    EXPECT_OK(ValidateTopic(ferry)) << t << " -> " << ferry;
    auto back = mqtt::ToMqttTopic(ferry);
    ASSERT_OK(back);
    EXPECT_EQ(*back, t);
  }
  EXPECT_EQ(mqtt::FromMqttTopic("v1.2/x"), "v1%2E2.x");
  EXPECT_EQ(mqtt::FromMqttTopic("/lead"), "%00.lead");
  // A '%' that starts no escape passes through.
  EXPECT_EQ(*mqtt::ToMqttTopic("50%.off"), "50%/off");
}

TEST(MqttTopics, ReplyAddressesCarryCorrelationData) {
  const std::string address = mqtt::ReplyAddress("resp/v1.0", std::string("\x00id\xff", 4));
  EXPECT_EQ(address, "resp.v1%2E0#006964ff");
  auto dest = mqtt::ParseDestination(address);
  ASSERT_OK(dest);
  EXPECT_EQ(dest->topic, "resp/v1.0");
  EXPECT_EQ(dest->correlation, std::string("\x00id\xff", 4));
  auto plain = mqtt::ParseDestination("resp.x");
  ASSERT_OK(plain);
  EXPECT_EQ(plain->correlation, "");
  EXPECT_FALSE(mqtt::ParseDestination("resp.x#nothex").ok());
}

BrokerTarget MqttTarget() {
  return {.name = "Mqtt",
          .make = []() -> Result<std::unique_ptr<Broker>> {
            return MakeBroker(MqttUrl(SharedMosquitto()), {});
          }};
}

INSTANTIATE_TEST_SUITE_P(Mqtt, BrokerConformance, ::testing::Values(MqttTarget()), TargetName);

TEST(MqttBroker, DownServerIsAOneLineConnectionError) {
  auto broker = MakeBroker("mqtt://127.0.0.1:" + std::to_string(FreePort()), {});
  ASSERT_OK(broker);
  Status s = (*broker)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection);
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect to mqtt://127.0.0.1:"));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
}

TEST(MqttBroker, BadSettingsAreNamed) {
  EXPECT_THAT(MakeBroker("mqtt://h:1883", {{"colour", "blue"}}).error().message(),
              HasSubstr("unknown option 'colour'"));
  EXPECT_THAT(MakeBroker("mqtt://h:99999", {}).error().message(), HasSubstr("bad port"));
}

class MqttHost : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<RunningHost>(
        ExamplesOnBroker("default = \"" + MqttUrl(SharedMosquitto()) + "\"", "mqtt"));
    ASSERT_OK(host_->start_status());
  }
  std::unique_ptr<RunningHost> host_;
};

TEST_F(MqttHost, EchoKeepsDataContentTypeAndMetadata) {
  ExpectEchoRoundTrip(*host_, "mqtt.echo.in", "over mqtt");
}

TEST_F(MqttHost, RequestCollectsRepliesFromTwoComponents) {
  ExpectTwoRepliesThenATimeout(*host_, "mqtt", 5s);
}

TEST_F(MqttHost, MosquittoClientsTalkToFerry) {
  const std::string port = std::to_string(SharedMosquitto().port());
  // mosquitto_sub waits for one message on echo/out while mosquitto_pub
  // sends into the echo component.
  std::string received;
  std::thread sub([&] {
    received = Shell("mosquitto_sub -h 127.0.0.1 -p " + port + " -t echo/out -C 1 -W 20 -V mqttv5");
  });
  std::this_thread::sleep_for(500ms);
  const std::string pub = Shell("mosquitto_pub -h 127.0.0.1 -p " + port +
                              " -t mqtt/echo/in -m 'from mosquitto_pub' -q 1 -V mqttv5");
  EXPECT_EQ(pub, "");
  sub.join();
  EXPECT_EQ(received, "from mosquitto_pub\n");
}

// An MQTT 5 client that is not Ferry asks with a response topic and
// correlation data; both Ferry replies echo its correlation data.
TEST_F(MqttHost, ForeignRequestGetsItsCorrelationDataBack) {
  const std::string port = std::to_string(SharedMosquitto().port());
  std::string received;
  std::thread sub([&] {
    received = Shell("mosquitto_sub -h 127.0.0.1 -p " + port +
                     " -t 'answers/for.me' -C 2 -W 20 -V mqttv5 -F '%D|%p'");
  });
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Shell("mosquitto_pub -h 127.0.0.1 -p " + port + " -t mqtt/greet -m mqtt -q 1 -V mqttv5"
                  " -D publish response-topic 'answers/for.me'"
                  " -D publish correlation-data 'req-42'"),
            "");
  sub.join();
  EXPECT_THAT(received, HasSubstr("req-42|hello, mqtt\n"));
  EXPECT_THAT(received, HasSubstr("req-42|HELLO, MQTT\n"));
}

TEST(MqttBroker, QueueGroupInsideOneProcessGivesEachMessageToOneMember) {
  auto broker = MakeBroker(MqttUrl(SharedMosquitto()), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink one, two, all;
  auto s1 = (*broker)->Subscribe({.pattern = "mq1.jobs", .queue_group = "w", .manual_ack = false},
                                 one.Handler());
  auto s2 = (*broker)->Subscribe({.pattern = "mq1.jobs", .queue_group = "w", .manual_ack = false},
                                 two.Handler());
  auto s3 = (*broker)->Subscribe({.pattern = "mq1.jobs", .manual_ack = false}, all.Handler());
  ASSERT_OK(s1);
  ASSERT_OK(s2);
  ASSERT_OK(s3);
  for (int i = 0; i < 40; ++i)
    ASSERT_OK((*broker)->Publish(TestMessage("mq1.jobs", std::to_string(i)), Clock::now() + 5s));
  ASSERT_EQ(all.WaitFor(40), 40u);
  const auto until = Clock::now() + 10s;
  while (one.size() + two.size() < 40 && Clock::now() < until) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(one.size() + two.size(), 40u);
  EXPECT_GT(one.size(), 0u);
  EXPECT_GT(two.size(), 0u);
}

TEST(MqttBroker, UnsettledDeliveriesPauseTheSubscriptionAtMaxInFlight) {
  auto broker = MakeBroker(MqttUrl(SharedMosquitto()), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink sink;
  auto sub = (*broker)->Subscribe({.pattern = "mq2.slow", .manual_ack = true, .max_in_flight = 2},
                                  sink.Handler());
  ASSERT_OK(sub);
  for (int i = 0; i < 5; ++i)
    ASSERT_OK((*broker)->Publish(TestMessage("mq2.slow", std::to_string(i)), Clock::now() + 5s));
  ASSERT_EQ(sink.WaitFor(2), 2u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink.size(), 2u);
  ASSERT_OK(sink.At(0).acker->Ack());
  EXPECT_EQ(sink.WaitFor(3), 3u);
  ASSERT_OK(sink.At(1).acker->Ack());
  ASSERT_OK(sink.At(2).acker->Ack());
  EXPECT_EQ(sink.WaitFor(5), 5u);
  EXPECT_EQ(sink.Texts(), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

// Redeliveries the adapter makes itself keep their in-flight slot while they
// wait, so nacking everything with a long delay holds at most max_in_flight.
TEST(MqttBroker, RedeliveriesWaitingCountAgainstMaxInFlight) {
  auto broker = MakeBroker(MqttUrl(SharedMosquitto()), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  std::atomic<int> calls{0};
  auto sub = (*broker)->Subscribe({.pattern = "mq2.nack", .manual_ack = true, .max_in_flight = 2},
                                  [&](Delivery d) {
                                    ++calls;
                                    ASSERT_OK(d.acker->Nack(std::chrono::hours(1)));
                                  });
  ASSERT_OK(sub);
  for (int i = 0; i < 6; ++i)
    ASSERT_OK((*broker)->Publish(TestMessage("mq2.nack", std::to_string(i)), Clock::now() + 5s));
  for (int i = 0; i < 100 && calls.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(calls.load(), 2);
}

TEST(MqttBroker, PausedSubscriptionHandsOutNothingButSettles) {
  auto broker = MakeBroker(MqttUrl(SharedMosquitto()), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink sink;
  auto sub = (*broker)->Subscribe({.pattern = "mq4.p", .manual_ack = true}, sink.Handler());
  ASSERT_OK(sub);
  ASSERT_OK((*broker)->Publish(TestMessage("mq4.p", "before"), Clock::now() + 5s));
  ASSERT_EQ(sink.WaitFor(1), 1u);
  (*sub)->Pause();
  ASSERT_OK((*broker)->Publish(TestMessage("mq4.p", "after"), Clock::now() + 5s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink.size(), 1u);
  EXPECT_OK(sink.At(0).acker->Ack());
}

// A stable client_id: what is published while this Ferry is away is queued
// by the server and handed to the next run's subscription, even though the
// session delivers it before that subscription is made. A subscription of
// the earlier run that this run does not make reaches nothing here.
TEST(MqttBroker, PersistentSessionCarriesMessagesAcrossFerryRuns) {
  const std::string url = MqttUrl(SharedMosquitto());
  const std::string id = "ferry-resume-" + std::to_string(::getpid());
  {
    auto first = MakeBroker(url, {{"client_id", id}});
    ASSERT_OK(first);
    ASSERT_OK((*first)->Connect());
    Sink ignored;
    auto stale = (*first)->Subscribe({.pattern = "mq3.stale", .manual_ack = false}, ignored.Handler());
    auto kept = (*first)->Subscribe({.pattern = "mq3.in", .manual_ack = false}, ignored.Handler());
    ASSERT_OK(stale);
    ASSERT_OK(kept);
    // The run ends: its subscriptions go, its session stays.
  }
  auto publisher = MakeBroker(url, {});
  ASSERT_OK(publisher);
  ASSERT_OK((*publisher)->Connect());
  for (int i = 0; i < 20; ++i)
    ASSERT_OK((*publisher)->Publish(TestMessage("mq3.in", std::to_string(i)), Clock::now() + 5s));

  auto second = MakeBroker(url, {{"client_id", id}, {"session_expiry_s", "60"}});
  ASSERT_OK(second);
  ASSERT_OK((*second)->Connect());
  std::this_thread::sleep_for(300ms);  // the queued messages arrive now
  Sink got;
  auto sub = (*second)->Subscribe({.pattern = "mq3.in", .manual_ack = false}, got.Handler());
  ASSERT_OK(sub);
  ASSERT_EQ(got.WaitFor(20), 20u);
  // mq3.stale is still subscribed in the session, under an identifier this
  // run gave to mq3.in: its messages must not come out of mq3.in.
  ASSERT_OK((*publisher)->Publish(TestMessage("mq3.stale", "stale"), Clock::now() + 5s));
  ASSERT_OK((*publisher)->Publish(TestMessage("mq3.in", "last"), Clock::now() + 5s));
  ASSERT_EQ(got.WaitFor(21), 21u);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(got.size(), 21u);
  EXPECT_EQ(got.At(20).message.data.view(), "last");
  // Leave nothing behind on the shared server.
  (*second)->Close();
  auto cleanup = MakeBroker(url, {{"client_id", id}, {"session_expiry_s", "0"}});
  ASSERT_OK(cleanup);
  EXPECT_OK((*cleanup)->Connect());
}

TEST(MqttQueueGroup, TwoFerryProcessesShareOneSubscription) {
  const std::string url = MqttUrl(SharedMosquitto());
  ExpectTwoHostsShareTheWork("default = \"" + url + "\"", url, {}, "mqg.in", 100);
}

// Mosquitto with persistence, stopped and restarted mid-stream: the host
// reconnects, resubscribes, and every publish it accepted is handled.
// Mosquitto writes its persistence file at shutdown and every
// autosave_interval, not per message, so a kill -9 loses what arrived since
// the last save; that is the server's guarantee (docs/brokers/mqtt.md).
TEST(MqttRestart, NoAcceptedMessageIsLostAcrossARestart) {
  TempDir dir;
  const std::uint16_t port = FreePort();
  const auto conf = dir.Write("mosquitto.conf",
                              MosquittoConf(port, "allow_anonymous true\npersistence true\n"
                                                  "persistence_location " +
                                                      dir.path().string() + "/\n"));
  ServerProcess server("mosquitto", {"mosquitto", "-c", conf.string()});
  server.UsePort(port);
  ASSERT_OK(server.Start());
  const std::string url = "mqtt://127.0.0.1:" + std::to_string(port);
  // The host runs with the defaults (no client_id): its session still
  // outlives the restart.
  RunningHost host("[brokers]\ndefault = \"" + url + "\"\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"mr.in\"]\n"
                   // Retries keep coming while the server is away, at most
                   // half a second apart, so the count ends soon after it is back.
                   "max_attempts = 200\nretry_delay_ms = 50\nmax_retry_delay_ms = 500\n");
  ASSERT_OK(host.start_status());
  // Counted on a persistent session of its own, so nothing it should see
  // is lost while the server is away either.
  auto counter = MakeBroker(url, {{"client_id", "ferry-restart-counter"}});
  ASSERT_OK(counter);
  ASSERT_OK((*counter)->Connect());
  Sink out;
  auto sub = (*counter)->Subscribe({.pattern = "echo.out", .manual_ack = false}, out.Handler());
  ASSERT_OK(sub);
  // The counter counts only once the server has its subscription, and the
  // echo's only once it answers: probe both before the run.
  ASSERT_TRUE(ProbeUntilEchoed([&](const std::string& body) { return host.Publish("mr.in", body); },
                               [&] { return out.Texts(); }, 50ms))
      << "the echo or the counter never came up";

  std::set<std::string> accepted;
  auto publish = [&](int i) {
    const std::string body = "m" + std::to_string(i);
    if (host.Publish("mr.in", body).ok()) accepted.insert(body);
  };
  for (int i = 0; i < 50; ++i) publish(i);
  server.Stop();
  // Without its file the server comes back with no sessions: what it held
  // for the host and the counter would be gone, whatever Ferry does.
  ASSERT_TRUE(std::filesystem::exists(dir.path() / "mosquitto.db")) << "mosquitto saved nothing";
  for (int i = 50; i < 60; ++i) publish(i);  // fail at once while down
  ASSERT_OK(server.Start());
  const auto until = Clock::now() + 30s;
  int i = 60;
  while (i < 110 && Clock::now() < until) {
    publish(i);
    if (accepted.count("m" + std::to_string(i))) ++i;
    else std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(i, 110) << "the host did not come back";
  ExpectEveryAcceptedCameOut(accepted, [&] { return out.Texts(); }, 20s);
  EXPECT_GE(accepted.size(), 100u);
}

// A host killed (-9) mid-stream on MQTT. Neither packaged C client can hold
// back the QoS 1 acknowledgement until a message is handled (libmosquitto
// and Paho C both send it on arrival), so what the killed host held is
// lost: at most its adapter's buffer (64) and the delivery being added to
// it, its queue_depth and one delivery per worker. The next host, on the same client_id, resumes the session and
// gets everything else (docs/brokers/mqtt.md).
TEST(MqttDurability, Kill9LosesAtMostWhatTheHostHeld) {
  // Mosquitto drops QoS 1 messages past 1000 queued for a session by
  // default, which the restart gap would exceed: that loss is not Ferry's.
  TempDir dir;
  const std::uint16_t port = FreePort();
  const auto conf = dir.Write("mosquitto.conf",
                              MosquittoConf(port, "allow_anonymous true\nmax_queued_messages 0\n"));
  ServerProcess server("mosquitto", {"mosquitto", "-c", conf.string()});
  server.UsePort(port);
  ASSERT_OK(server.Start());
  const std::string url = MqttUrl(server);
  const std::string id = std::to_string(Clock::now().time_since_epoch().count() % 100000000);
  const int total = std::getenv("FERRY_PROOF_MESSAGES") ? std::atoi(std::getenv("FERRY_PROOF_MESSAGES")) : 3000;
  const int queue_depth = 8, workers = 2;
  const std::string config = "[limits]\nqueue_depth = " + std::to_string(queue_depth) +
                             "\n[brokers]\ndefault = { url = \"" + url + "\", client_id = \"k9-" + id +
                             "\" }\n[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/echo.wasm\"\n"
                             "subscribe = [\"k9" + id + ".in\"]\nworkers = " + std::to_string(workers) + "\n";
  std::mutex mutex;
  std::map<std::string, int> seen;
  auto watcher = MakeBroker(url, {});
  ASSERT_OK(watcher);
  ASSERT_OK((*watcher)->Connect());
  const std::string prefix = "k9-" + id + "-";
  auto counting = (*watcher)->Subscribe({.pattern = "echo.out", .manual_ack = false}, [&](Delivery d) {
    std::string body(d.message.data.view());
    if (!body.starts_with(prefix)) return;
    std::lock_guard lock(mutex);
    ++seen[body];
  });
  ASSERT_OK(counting);
  auto publisher = MakeBroker(url, {});
  ASSERT_OK(publisher);
  ASSERT_OK((*publisher)->Connect());
  FerryProcess first(config);
  ASSERT_OK(first.Start());
  std::this_thread::sleep_for(200ms);  // the server has the subscription
  FerryProcess second(config);
  int sent = 0;
  for (int i = 0; i < total; ++i) {
    if (i == total / 3) {
      first.Kill();
      ASSERT_OK(second.Start());
    }
    if ((*publisher)->Publish(TestMessage("k9" + id + ".in", prefix + std::to_string(i)), Clock::now() + 10s).ok())
      ++sent;
  }
  // Wait until the count stops moving.
  std::size_t last = 0;
  for (int quiet = 0; quiet < 20;) {
    std::this_thread::sleep_for(100ms);
    std::lock_guard lock(mutex);
    if (seen.size() == static_cast<std::size_t>(sent)) break;
    quiet = seen.size() == last ? quiet + 1 : 0;
    last = seen.size();
  }
  std::lock_guard lock(mutex);
  int duplicates = 0;
  for (const auto& [body, n] : seen) duplicates += n - 1;
  const int lost = sent - static_cast<int>(seen.size());
  std::printf("mqtt, SIGKILL: sent %d, handled %zu, lost %d, duplicates %d\n", sent, seen.size(), lost,
              duplicates);
  ::testing::Test::RecordProperty("lost", lost);
  EXPECT_EQ(sent, total);
  // The adapter's buffer, the one its network thread is handing over, the
  // component's queue and one per worker.
  EXPECT_LE(lost, 64 + 1 + queue_depth + workers);
  EXPECT_EQ(second.Stop(), 0) << second.Log();
}

// Reliability proof 7 on MQTT: mosquitto with persistence restarted ten
// times (SIGTERM: it saves its sessions then; a kill -9 loses what arrived
// since its last save, which is the server's guarantee) while the echo runs
// under load; a persistent-session counter reads echo.out.
TEST(MqttRestart, TenRestartsUnderLoadLoseNothing) {
  TempDir dir;
  const std::uint16_t port = FreePort();
  const auto conf = dir.Write("mosquitto.conf",
                              MosquittoConf(port, "allow_anonymous true\npersistence true\n"
                                                  "max_queued_messages 0\npersistence_location " +
                                                      dir.path().string() + "/\n"));
  ServerProcess server("mosquitto", {"mosquitto", "-c", conf.string()});
  server.UsePort(port);
  ASSERT_OK(server.Start());
  const std::string url = "mqtt://127.0.0.1:" + std::to_string(port);
  std::mutex mutex;
  std::map<std::string, int> out;
  auto counter = MakeBroker(url, {{"client_id", "ferry-proof-counter"}});
  ASSERT_OK(counter);
  ASSERT_OK((*counter)->Connect());
  auto counting = (*counter)->Subscribe({.pattern = "echo.out", .manual_ack = false}, [&](Delivery d) {
    std::lock_guard lock(mutex);
    ++out[std::string(d.message.data.view())];
  });
  ASSERT_OK(counting);
  RunningHost host("[brokers]\ndefault = \"" + url + "\"\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"mp.in\"]\n"
                   "max_attempts = 1000\nretry_delay_ms = 50\nmax_retry_delay_ms = 500\n");
  ASSERT_OK(host.start_status());
  ExpectRestartsLoseNothing({.label = "mqtt persistent session", .server = &server, .kill = false,
                             .publish = [&](const std::string& body) { return host.Publish("mp.in", body); },
                             .outputs = [&] {
                               std::lock_guard lock(mutex);
                               return out;
                             }});
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

TEST(MqttCredentials, PasswordFromTheEnvironmentAndAClearErrorWhenWrong) {
  TempDir dir;
  const auto passwd = dir.path() / "passwd";
  ASSERT_EQ(Shell("mosquitto_passwd -b -c " + passwd.string() + " ferry s3cret-pass"), "");
  const std::uint16_t port = FreePort();
  const auto conf = dir.Write(
      "mosquitto.conf",
      MosquittoConf(port, "allow_anonymous false\npassword_file " + passwd.string() + "\n"));
  ServerProcess server("mosquitto", {"mosquitto", "-c", conf.string()});
  server.UsePort(port);
  ASSERT_OK(server.Start());
  const std::string url = "mqtt://127.0.0.1:" + std::to_string(port);
  ::setenv("FERRY_MQTT_PASSWORD", "s3cret-pass", 1);
  auto good = MakeBroker(url, {{"user", "ferry"}});
  ::unsetenv("FERRY_MQTT_PASSWORD");
  ASSERT_OK(good);
  EXPECT_OK((*good)->Connect());
  auto bad = MakeBroker("mqtt://ferry:wrong-pass@127.0.0.1:" + std::to_string(port), {});
  ASSERT_OK(bad);
  Status s = (*bad)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect"));
  EXPECT_THAT(s.error().message(), ::testing::Not(HasSubstr("wrong-pass")));
  EXPECT_EQ((*bad)->DisplayUrl().find("wrong-pass"), std::string::npos);
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// CloudEvents over MQTT 5: the binding's user properties (specversion, id,
// source, type) reach a component as ce- keys, and what a component sends
// with ce- keys leaves with the binding's names; a component with
// cloudevents_type stamps what it sends.
TEST(MqttCloudEvents, BindingPropertiesAreCeKeysForComponentsAndBackOnTheWire) {
  const std::string port = std::to_string(SharedMosquitto().port());
  RunningHost h("[brokers]\ndefault = \"" + MqttUrl(SharedMosquitto()) + "\"\n" + CloudEventsComponents("ce"));
  ASSERT_OK(h.start_status());
  Inbox& inspected = h.Listen("misbehave.out");
  const std::string props =
      " -D publish user-property specversion 1.0 -D publish user-property id ev-1"
      " -D publish user-property source /sensors/7 -D publish user-property type com.example.reading"
      " -D publish user-property plain kept";
  EXPECT_EQ(Shell("mosquitto_pub -h 127.0.0.1 -p " + port + " -t ce/inspect -m inspect -q 1 -V mqttv5" + props), "");
  auto got = inspected.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  ExpectTheTestEventAsCeKeys(Text(got[0]));
  EXPECT_THAT(Text(got[0]), HasSubstr("plain=kept"));

  // The echo sends as its own event: the binding's names on the wire.
  std::string received;
  std::thread sub([&] {
    received = Shell("mosquitto_sub -h 127.0.0.1 -p " + port + " -t echo/out -C 1 -W 20 -V mqttv5 -F '%P'");
  });
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Shell("mosquitto_pub -h 127.0.0.1 -p " + port + " -t ce/echo -m hi -q 1 -V mqttv5" + props), "");
  sub.join();
  EXPECT_THAT(received, HasSubstr("specversion:1.0"));
  EXPECT_THAT(received, HasSubstr("type:com.example.echoed"));
  EXPECT_THAT(received, HasSubstr("source:/ferry/echo"));
  EXPECT_THAT(received, ::testing::Not(HasSubstr("id:ev-1")));  // a new event, a new id
  EXPECT_THAT(received, ::testing::ContainsRegex("time:[0-9]{4}-[0-9]{2}-[0-9]{2}T"));
  EXPECT_THAT(received, ::testing::Not(HasSubstr("ce-")));
}

}  // namespace
}  // namespace ferry::testing
