// The Kafka adapter against a real Apache Kafka 4.1.1 (KRaft mode, from the
// jars scripts/setup.sh caches) on free loopback ports: topic and option
// parsing, the conformance suite, Ferry components over Kafka, kcat talking
// to a running Ferry, two Ferry processes sharing a consumer group, SASL
// credentials, and a server restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <set>
#include <thread>

#include <librdkafka/rdkafka.h>

#include "brokers/conformance.h"
#include "brokers/kafka/kafka_client.h"
#include "brokers/registry.h"
#include "support/durability.h"
#include "support/host_fixture.h"
#include "support/kafka_server.h"
#include "support/restart_proof.h"
#include "support/send_refused.h"
#include "support/two_hosts.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(KafkaTopics, MapToNamesAndRegexSubscriptions) {
  EXPECT_EQ(*kafka::ToKafkaTopic("orders.new-eu_1"), "orders.new-eu_1");
  EXPECT_THAT(kafka::ToKafkaTopic("orders.n+w").error().message(),
              HasSubstr("Kafka topic names allow only"));
  EXPECT_FALSE(kafka::ToKafkaTopic("a..b").ok());
  EXPECT_FALSE(kafka::ToKafkaTopic(std::string(250, 'a')).ok());
  EXPECT_EQ(*kafka::ToSubscription("orders.new"), "orders.new");
  EXPECT_EQ(*kafka::ToSubscription("orders.*"), "^orders\\.[^.]+$");
  EXPECT_EQ(*kafka::ToSubscription("a-b.*.c.>"), "^a\\-b\\.[^.]+\\.c\\..+$");
  EXPECT_EQ(*kafka::ToSubscription(">"), "^.+$");
  EXPECT_FALSE(kafka::ToSubscription("a.>.b").ok());
}

TEST(KafkaTopics, ReplyAddressesCarryTheCorrelationId) {
  const std::string address = kafka::ReplyAddress("_INBOX.x", std::string("\x00id\xff", 4));
  EXPECT_EQ(address, "_INBOX.x#006964ff");
  auto dest = kafka::ParseDestination(address);
  ASSERT_OK(dest);
  EXPECT_EQ(dest->topic, "_INBOX.x");
  EXPECT_TRUE(dest->has_correlation);
  EXPECT_EQ(dest->correlation, std::string("\x00id\xff", 4));
  auto plain = kafka::ParseDestination("replies.here");
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->has_correlation);
  EXPECT_FALSE(kafka::ParseDestination("r#xyz").ok());
}

TEST(KafkaOptions, UrlsAndSettingsAreParsedAndBadOnesNamed) {
  auto two = KafkaOptionsFrom("kafka://u:p@k1:9093,k2", {{"rdkafka.linger.ms", "5"}});
  ASSERT_OK(two);
  EXPECT_EQ(two->Bootstrap(), "k1:9093,k2:9092");
  EXPECT_EQ(two->user, "u");
  EXPECT_EQ(two->password, "p");
  EXPECT_EQ(two->rdkafka.at("linger.ms"), "5");
  EXPECT_THAT(MakeBroker("kafka://h:9092", {{"colour", "blue"}}).error().message(),
              HasSubstr("unknown option 'colour' for a kafka broker"));
  EXPECT_THAT(MakeBroker("kafka://h:99999", {}).error().message(), HasSubstr("bad port"));
  EXPECT_THAT(MakeBroker("kafka://h:1,,h:2", {}).error().message(), HasSubstr("empty server"));
  EXPECT_THAT(MakeBroker("kafka://h", {{"session_timeout_ms", "soon"}}).error().message(),
              HasSubstr("session_timeout_ms: expected a whole number"));
  EXPECT_THAT(MakeBroker("kafka://h", {{"sasl_mechanism", "GSSAPI"}}).error().message(),
              HasSubstr("sasl_mechanism"));
  // A property librdkafka refuses is named when the connection is made.
  auto odd = MakeBroker("kafka://h", {{"rdkafka.no.such.thing", "1"}});
  ASSERT_OK(odd);
  EXPECT_THAT((*odd)->Connect().error().message(), HasSubstr("no.such.thing"));
}

TEST(KafkaBroker, DownServerIsAOneLineConnectionErrorSoon) {
  auto broker = MakeBroker("kafka://127.0.0.1:" + std::to_string(FreePort()),
                           {{"connect_timeout_ms", "1500"}});
  ASSERT_OK(broker);
  const auto start = Clock::now();
  Status s = (*broker)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection);
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect to kafka://127.0.0.1:"));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
}

BrokerTarget KafkaTarget() {
  return {.name = "Kafka",
          .make = []() -> Result<std::unique_ptr<Broker>> {
            // New topics matching a wildcard are noticed within half a second.
            return MakeBroker(SharedKafka().Url(), {{"metadata_refresh_ms", "500"}});
          },
          .order_metadata = {{std::string(kafka::kKeyMetadata), "one-key"}}};
}

INSTANTIATE_TEST_SUITE_P(Kafka, BrokerConformance, ::testing::Values(KafkaTarget()), TargetName);

TEST(KafkaBroker, UnsettledDeliveriesPauseTheSubscriptionAtMaxInFlight) {
  auto broker = MakeBroker(SharedKafka().Url(), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink sink;
  auto sub = (*broker)->Subscribe({.pattern = "k2.slow", .manual_ack = true, .max_in_flight = 2},
                                  sink.Handler());
  ASSERT_OK(sub);
  for (int i = 0; i < 5; ++i) {
    Message m = TestMessage("k2.slow", std::to_string(i));
    m.metadata.Set(std::string(kafka::kKeyMetadata), "k");  // one partition: one order
    ASSERT_OK((*broker)->Publish(m, Clock::now() + 5s));
  }
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

// Offsets are committed only up to the first unsettled record: a group
// member that goes away with a record unsettled leaves it to the next one,
// while what it settled is not delivered again.
TEST(KafkaBroker, UnsettledRecordGoesToTheNextMemberOfTheGroup) {
  const std::string url = SharedKafka().Url();
  auto broker = MakeBroker(url, {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  const std::string group = "k3-" + std::to_string(::getpid());
  auto publish = [&](const std::string& text) {
    Message m = TestMessage("k3.work", text);
    m.metadata.Set(std::string(kafka::kKeyMetadata), "same");
    ASSERT_OK((*broker)->Publish(m, Clock::now() + 5s));
  };
  {
    Sink first;
    auto sub = (*broker)->Subscribe({.pattern = "k3.work", .queue_group = group}, first.Handler());
    ASSERT_OK(sub);
    publish("a");
    publish("b");
    publish("c");
    ASSERT_EQ(first.WaitFor(3), 3u);
    ASSERT_OK(first.At(0).acker->Ack());
    ASSERT_OK(first.At(2).acker->Ack());  // "b" stays unsettled
  }
  Sink second;
  auto sub = (*broker)->Subscribe({.pattern = "k3.work", .queue_group = group}, second.Handler());
  ASSERT_OK(sub);
  ASSERT_GE(second.WaitFor(2), 2u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(second.Texts(), (std::vector<std::string>{"b", "c"}));
}

class KafkaHost : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<RunningHost>(
        ExamplesOnBroker("default = \"" + SharedKafka().Url() + "\"", "kafka"));
    ASSERT_OK(host_->start_status());
  }
  std::unique_ptr<RunningHost> host_;
};

TEST_F(KafkaHost, EchoKeepsDataContentTypeAndMetadata) {
  ExpectEchoRoundTrip(*host_, "kafka.echo.in", "over kafka");
}

TEST_F(KafkaHost, RequestCollectsRepliesFromTwoComponents) {
  ExpectTwoRepliesThenATimeout(*host_, "kafka", 10s);
}

// A message the component keeps failing is retried (a Ferry-held retry:
// Nack), then given up: the runtime publishes it to the dead-letter topic
// and the record is settled.
TEST(KafkaDeadLetter, GivenUpRecordsGoToTheDeadLetterTopic) {
  const std::string id = std::to_string(Clock::now().time_since_epoch().count() % 1000000007);
  const std::string topic = "kdl" + id + ".in", dead = "kdl" + id + ".dead";
  RunningHost host("[brokers]\ndefault = \"" + SharedKafka().Url() + "\"\n"
                   "[[component]]\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                   "subscribe = [\"" + topic + "\"]\nqueue_group = \"kdl\"\n"
                   "max_attempts = 2\nretry_delay_ms = 10\ndead_letter = \"" + dead + "\"\n");
  ASSERT_OK(host.start_status());
  Inbox& dead_letters = host.Listen(dead);
  ASSERT_OK(host.Publish(topic, "fail"));
  auto got = dead_letters.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "fail");
  EXPECT_EQ(got[0].metadata.Get("ferry-attempts"), "2");
  EXPECT_TRUE(got[0].metadata.Get("ferry-dead-letter-reason").has_value());
  auto stats = host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(stats.failed, 2u);
}

// Output of a shell command, NUL bytes included.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

// Consumes `topic` from the beginning with kcat until `wanted` shows up in
// its output (formatted by `format`), or 30 s pass; returns the last output.
std::string KcatUntil(const std::string& topic, const std::string& format, const std::string& wanted) {
  const std::string brokers = "127.0.0.1:" + std::to_string(SharedKafka().port());
  std::string out;
  const auto until = Clock::now() + 30s;
  while (Clock::now() < until) {
    out = Shell("kcat -b " + brokers + " -C -t " + topic + " -o beginning -e -q -f '" + format + "'");
    if (out.find(wanted) != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  return out;
}

TEST_F(KafkaHost, KcatProducesIntoTheEchoAndConsumesItByteExact) {
  const std::string brokers = "127.0.0.1:" + std::to_string(SharedKafka().port());
  const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(Clock::now().time_since_epoch().count());
  const std::string payload = std::string("kcat \0\x01 bytes \xff\xfe|", 17) + tag;
  TempDir dir;
  const auto file = dir.Write("payload.bin", payload);
  // A file argument is one record, sent byte for byte.
  EXPECT_EQ(Shell("kcat -b " + brokers + " -P -t kafka.echo.in -k key-" + tag +
                  " -H trace=t-kcat -H content-type=application/x-kcat " + file.string()),
            "");
  const std::string wanted = "<key-" + tag + "|trace=t-kcat,content-type=application/x-kcat|" +
                             payload + ">\n";
  const std::string out = KcatUntil("echo.out", "<%k|%h|%s>\\n", wanted);
  EXPECT_NE(out.find(wanted), std::string::npos) << out.substr(0, 2000);
}

// CloudEvents in binary mode: ce_ headers from kcat reach the echo as ce-
// keys and leave it as ce_ headers again.
TEST_F(KafkaHost, CloudEventsHeadersRoundTrip) {
  const std::string brokers = "127.0.0.1:" + std::to_string(SharedKafka().port());
  const std::string tag = "ce-" + std::to_string(::getpid()) + "-" + std::to_string(Clock::now().time_since_epoch().count());
  TempDir dir;
  const auto file = dir.Write("event.json", "{\"reading\": 7}");
  EXPECT_EQ(Shell("kcat -b " + brokers + " -P -t kafka.echo.in -H ce_specversion=1.0 -H ce_id=" + tag +
                  " -H ce_source=/sensors/7 -H ce_type=com.example.reading " + file.string()),
            "");
  const std::string wanted = "ce_specversion=1.0,ce_id=" + tag + ",ce_source=/sensors/7,ce_type=com.example.reading|";
  const std::string out = KcatUntil("echo.out", "%h|%s\\n", wanted);
  EXPECT_NE(out.find(wanted), std::string::npos) << out.substr(0, 2000);
}

// A client that is not Ferry asks with reply-to and correlation-id headers;
// both components' replies come back on its topic with its correlation id.
TEST_F(KafkaHost, KcatRequestGetsRepliesWithItsCorrelationId) {
  const std::string brokers = "127.0.0.1:" + std::to_string(SharedKafka().port());
  const std::string answers = "kcat.answers." + std::to_string(::getpid());
  EXPECT_EQ(Shell("echo -n kcat | kcat -b " + brokers + " -P -t kafka.greet -H reply-to=" + answers +
                  " -H correlation-id=req-42"),
            "");
  std::string out = KcatUntil(answers, "%h|%s\\n", "HELLO, KCAT");
  out = KcatUntil(answers, "%h|%s\\n", "hello, kcat");
  EXPECT_THAT(out, HasSubstr("correlation-id=req-42|hello, kcat\n"));
  EXPECT_THAT(out, HasSubstr("correlation-id=req-42|HELLO, KCAT\n"));
}

TEST(KafkaQueueGroup, TwoFerryProcessesShareOneConsumerGroup) {
  const std::string url = SharedKafka().Url();
  ExpectTwoHostsShareTheWork("default = \"" + url + "\"", url, {}, "kq.in", 100);
}

TEST(KafkaCredentials, PasswordFromTheEnvironmentAndAClearErrorWhenWrong) {
  KafkaServer& server = SharedKafka();
  ::setenv("FERRY_KAFKA_PASSWORD", KafkaServer::kPassword, 1);
  auto good = MakeBroker(server.SaslUrl(), {{"user", KafkaServer::kUser}});
  ::unsetenv("FERRY_KAFKA_PASSWORD");
  ASSERT_OK(good);
  ASSERT_OK((*good)->Connect());
  Sink sink;
  auto sub = (*good)->Subscribe({.pattern = "kc.in", .manual_ack = false}, sink.Handler());
  ASSERT_OK(sub);
  ASSERT_OK((*good)->Publish(TestMessage("kc.in", "signed in"), Clock::now() + 5s));
  ASSERT_EQ(sink.WaitFor(1), 1u);
  EXPECT_EQ(sink.At(0).message.data.view(), "signed in");

  const std::string bad_url = "kafka://" + std::string(KafkaServer::kUser) + ":wrong-pass@" +
                              server.SaslUrl().substr(8);
  auto bad = MakeBroker(bad_url, {{"connect_timeout_ms", "3000"}});
  ASSERT_OK(bad);
  Status s = (*bad)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect"));
  EXPECT_THAT(s.error().message(), HasSubstr("Invalid username or password"));
  EXPECT_THAT(s.error().message(), ::testing::Not(HasSubstr("wrong-pass")));
  EXPECT_EQ((*bad)->DisplayUrl().find("wrong-pass"), std::string::npos);
}

// Kafka stopped and restarted mid-stream: the host's producer and consumer
// reconnect by themselves and every publish it accepted is handled.
// It restarts the shared server (same ports, same data): the tests of this
// process run one after another, and those after it find the server back.
TEST(KafkaRestart, NoAcceptedMessageIsLostAcrossARestart) {
  KafkaServer& server = SharedKafka();
  const std::string url = server.Url();
  // A short session: the groups settle soon after the server is back.
  RunningHost host("[brokers]\ndefault = { url = \"" + url + "\", session_timeout_ms = 3000 }\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"kr.in\"]\n"
                   "max_attempts = 400\nretry_delay_ms = 50\nmax_retry_delay_ms = 500\n");
  ASSERT_OK(host.start_status());
  auto counter = MakeBroker(url, {{"session_timeout_ms", "3000"}});
  ASSERT_OK(counter);
  ASSERT_OK((*counter)->Connect());
  Sink out;
  auto sub = (*counter)->Subscribe({.pattern = "echo.out", .manual_ack = false}, out.Handler());
  ASSERT_OK(sub);
  ASSERT_TRUE(ProbeUntilEchoed([&](const std::string& body) { return host.Publish("kr.in", body); },
                               [&] { return out.Texts(); }, 100ms))
      << "the echo or the counter never came up";

  std::set<std::string> accepted;
  auto publish = [&](int i) {
    const std::string body = "m" + std::to_string(i);
    if (host.Publish("kr.in", body).ok()) accepted.insert(body);
  };
  for (int i = 0; i < 50; ++i) publish(i);
  server.Stop();
  for (int i = 50; i < 60; ++i) publish(i);  // fail while down
  ASSERT_OK(server.Start());
  const auto until = Clock::now() + 60s;
  int i = 60;
  while (i < 110 && Clock::now() < until) {
    publish(i);
    if (accepted.count("m" + std::to_string(i))) ++i;
    else std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(i, 110) << "the host did not come back";
  ExpectEveryAcceptedCameOut(accepted, [&] { return out.Texts(); }, 60s);
  EXPECT_GE(accepted.size(), 100u);
}

// kill -9 of the host mid-stream (docs/RELIABILITY.md's proof; CI runs
// 1000 messages, FERRY_PROOF_MESSAGES=100000 the full run): the next host
// of the group resumes from the committed offsets, so nothing is lost and
// what the killed one had in hand comes again (duplicates counted).
TEST(KafkaDurability, AHostKilledMidStreamLosesNothing) {
  const std::string url = SharedKafka().Url();
  const std::string id = std::to_string(Clock::now().time_since_epoch().count() % 100000000);
  DurabilityRun run;
  run.topic = "kdur" + id + ".in";
  // A short session: the killed member's partitions move within 3 s.
  run.brokers_toml = "default = { url = \"" + url + "\", session_timeout_ms = 3000 }";
  run.broker_url = url;
  run.publisher_options = std::map<std::string, std::string>{};
  run.stop_signal = SIGKILL;
  ExpectNoLoss(run, "kafka");
}

// Makes `topic` with one partition and a size limit no record batch fits
// in, through the admin API of librdkafka: every produce to it is refused
// by the server, after the client accepted it.
void CreateTopicNothingFits(const std::string& bootstrap, const std::string& topic) {
  char why[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), why, sizeof why), RD_KAFKA_CONF_OK)
      << why;
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
  ASSERT_NE(rk, nullptr) << why;
  rd_kafka_NewTopic_t* spec = rd_kafka_NewTopic_new(topic.c_str(), 1, 1, why, sizeof why);
  ASSERT_NE(spec, nullptr) << why;
  ASSERT_EQ(rd_kafka_NewTopic_set_config(spec, "max.message.bytes", "8"), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &spec, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  ASSERT_NE(event, nullptr) << "no answer to CreateTopics";
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
  ASSERT_NE(result, nullptr) << rd_kafka_event_error_string(event);
  std::size_t n = 0;
  const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &n);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(rd_kafka_topic_result_error(topics[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_topic_result_error_string(topics[0]);
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(spec);
  rd_kafka_destroy(rk);
}

// The guest's produce returns once librdkafka has it; the server then
// refuses the record (larger than the topic allows). The delivery report
// fails the delivery that sent it: tried again, given up, its offset
// never committed as handled.
TEST(KafkaPipeline, ARecordTheServerRefusesFailsTheDeliveryAfterTheSendReturned) {
  const std::string url = SharedKafka().Url();
  const std::string tag = std::to_string(::getpid());
  const std::string refused = "krefused" + tag, in_topic = "kpin" + tag;
  CreateTopicNothingFits(url.substr(std::string("kafka://").size()), refused);
  ExpectARefusedSendFailsItsDelivery(url, in_topic, refused, "Message size too large");
}

}  // namespace
}  // namespace ferry::testing
