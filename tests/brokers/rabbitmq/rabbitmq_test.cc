// The RabbitMQ adapter against a real node (Debian's rabbitmq-server, one per
// test process, tests/support/rabbitmq_server.h): URL and topic mapping, the
// conformance suite, Ferry components over AMQP, amqp-publish/amqp-consume
// talking to a running Ferry, two Ferry processes sharing a queue,
// credentials, prefetch and dead-lettering.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <unistd.h>

#include "brokers/conformance.h"
#include "brokers/rabbitmq/amqp_message.h"
#include "brokers/rabbitmq/rabbitmq_broker.h"
#include "brokers/registry.h"
#include "support/cloudevents_checks.h"
#include "support/host_fixture.h"
#include "support/rabbitmq_server.h"
#include "support/shell.h"
#include "support/two_hosts.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(RabbitMqOptions, UrlsAndSettings) {
  auto o = RabbitMqOptionsFrom("amqp://ann:p%40ss@rabbit.example:5673/%2F", {});
  ASSERT_OK(o);
  EXPECT_EQ(o->host, "rabbit.example");
  EXPECT_EQ(o->port, 5673);
  EXPECT_EQ(o->user, "ann");
  EXPECT_EQ(o->password, "p@ss");
  EXPECT_EQ(o->vhost, "/");
  auto v = RabbitMqOptionsFrom("amqps://h/orders", {{"exchange", "ferry"}, {"heartbeat_s", "5"}});
  ASSERT_OK(v);
  EXPECT_TRUE(v->tls);
  EXPECT_EQ(v->port, 5671);
  EXPECT_EQ(v->vhost, "orders");
  EXPECT_EQ(v->exchange, "ferry");
  EXPECT_EQ(v->heartbeat_s, 5);
  EXPECT_THAT(RabbitMqOptionsFrom("amqp://h", {{"colour", "blue"}}).error().message(),
              HasSubstr("unknown option 'colour'"));
  EXPECT_THAT(RabbitMqOptionsFrom("amqp://h:99999", {}).error().message(), HasSubstr("bad port"));
  EXPECT_THAT(RabbitMqOptionsFrom("amqp://h/a/b", {}).error().message(), HasSubstr("%2F"));
  EXPECT_THAT(RabbitMqOptionsFrom("amqp://h", {{"tls_ca", "x"}}).error().message(),
              HasSubstr("amqps://"));
  EXPECT_THAT(RabbitMqOptionsFrom("amqp://h", {{"persistent", "yes"}}).error().message(),
              HasSubstr("persistent: expected true or false"));
  EXPECT_THAT(MakeBroker("amqp://h", {{"colour", "blue"}}).error().message(),
              HasSubstr("unknown option 'colour'"));
}

TEST(RabbitMqOptions, CredentialsFromTheEnvironmentFillOnlyWhatIsMissing) {
  ::setenv("FERRY_AMQP_USER", "env-user", 1);
  ::setenv("FERRY_AMQP_PASSWORD", "env-pass", 1);
  auto from_env = RabbitMqOptionsFrom("amqp://h", {});
  auto from_url = RabbitMqOptionsFrom("amqp://url-user:url-pass@h", {});
  ::unsetenv("FERRY_AMQP_USER");
  ::unsetenv("FERRY_AMQP_PASSWORD");
  ASSERT_OK(from_env);
  EXPECT_EQ(from_env->user, "env-user");
  EXPECT_EQ(from_env->password, "env-pass");
  ASSERT_OK(from_url);
  EXPECT_EQ(from_url->user, "url-user");
  EXPECT_EQ(from_url->password, "url-pass");
}

TEST(AmqpTopics, PatternsBecomeBindingKeysAndReplyAddressesRoundTrip) {
  EXPECT_EQ(*amqp::BindingKey("orders.*.eu"), "orders.*.eu");
  EXPECT_EQ(*amqp::BindingKey("orders.>"), "orders.#");
  EXPECT_EQ(*amqp::BindingKey(">"), "#");
  EXPECT_THAT(amqp::BindingKey("a.#").error().message(), HasSubstr("AMQP's wildcard"));
  EXPECT_FALSE(amqp::BindingKey("a.>.b").ok());
  EXPECT_FALSE(amqp::BindingKey(std::string(300, 'a')).ok());
  auto topic = amqp::ParseDestination("a.b", "amq.topic");
  ASSERT_OK(topic);
  EXPECT_EQ(topic->exchange, "amq.topic");
  EXPECT_EQ(topic->routing_key, "a.b");
  const std::string address = amqp::ReplyAddress("amq.rabbitmq.reply-to.g1h/x==", std::string("\0id", 3));
  EXPECT_EQ(address, "amq.rabbitmq.reply-to.g1h/x==#006964");
  auto reply = amqp::ParseDestination(address, "amq.topic");
  ASSERT_OK(reply);
  EXPECT_EQ(reply->exchange, "");
  EXPECT_EQ(reply->routing_key, "amq.rabbitmq.reply-to.g1h/x==");
  EXPECT_EQ(reply->correlation_id, std::string("\0id", 3));
  EXPECT_FALSE(amqp::ParseDestination("q#zz", "amq.topic").ok());
  EXPECT_FALSE(amqp::ParseDestination("a..b", "amq.topic").ok());
}

BrokerTarget RabbitMqTarget() {
  return {.name = "RabbitMq",
          .make = []() -> Result<std::unique_ptr<Broker>> {
            return MakeBroker(SharedRabbitMq().Url(), {});
          }};
}

INSTANTIATE_TEST_SUITE_P(RabbitMq, BrokerConformance, ::testing::Values(RabbitMqTarget()),
                         TargetName);

TEST(RabbitMqBroker, UnreachableServerIsAQuickOneLineConnectionError) {
  auto broker = MakeBroker("amqp://127.0.0.1:" + std::to_string(FreePort()), {});
  ASSERT_OK(broker);
  const auto start = Clock::now();
  Status s = (*broker)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection);
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect to amqp://127.0.0.1:"));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
  EXPECT_EQ((*broker)->State(), ConnectionState::kDisconnected);
}

TEST(RabbitMqBroker, BadUrlsAreOneLineErrors) {
  for (const std::string url : {"amqp://h:0", "amqp://h:x", "amqp://h/a/b", "amqp://u:%zz@h",
                                "amqp://h?heartbeat=5"}) {
    auto b = MakeBroker(url, {});
    ASSERT_FALSE(b.ok()) << url;
    EXPECT_EQ(b.error().code(), ErrorCode::kInvalidArgument) << url;
    EXPECT_EQ(b.error().message().find('\n'), std::string::npos) << url;
  }
}

// What a user sees: `ferry run` stops at once with one line naming the broker.
TEST(RabbitMqBroker, FerryRunOnABadOrUnreachableBrokerSaysSoInOneLine) {
  TempDir dir;
  const std::map<std::string, std::string> cases = {
      {"amqp://127.0.0.1:" + std::to_string(FreePort()), "the connection was refused"},
      {"amqp://127.0.0.1:x", "bad port in amqp URL: 'x'"},
      {"amqp://127.0.0.1:1/a/b", "write it as %2F"}};
  for (const auto& [url, expected] : cases) {
    const auto config = dir.Write("ferry.toml", "[brokers]\ndefault = \"" + url + "\"\n");
    const auto start = Clock::now();
    const std::string out =
        Shell("timeout 20 " + std::string(FERRY_BINARY) + " run --config " + config.string());
    EXPECT_LT(Clock::now() - start, 10s) << url;
    EXPECT_THAT(out, HasSubstr(expected)) << url;
    EXPECT_THAT(out, HasSubstr("broker 'default'")) << url;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

// amqps:// to a port that speaks plain AMQP: the TLS handshake fails, and
// says so in one line, without waiting for a timeout.
TEST(RabbitMqBroker, TlsToAPlainPortFailsClearly) {
  auto broker = MakeBroker("amqps://127.0.0.1:" + std::to_string(SharedRabbitMq().port()),
                           {{"tls_verify", "false"}});
  ASSERT_OK(broker);
  const auto start = Clock::now();
  Status s = (*broker)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection) << s.error().message();
  EXPECT_THAT(s.error().message(), HasSubstr("cannot connect to amqps://127.0.0.1:"));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
}

TEST(RabbitMqBroker, BadSubscriptionSettingsAreNamed) {
  auto broker = MakeBroker(SharedRabbitMq().Url(), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  auto bad = (*broker)->Subscribe({.pattern = "rq4.x", .extensions = {{"prefetch", "lots"}}},
                                  [](Delivery) {});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("prefetch: expected an integer"));
  auto reserved = (*broker)->Subscribe({.pattern = "rq4.x", .extensions = {{"queue", "amq.mine"}}},
                                       [](Delivery) {});
  ASSERT_FALSE(reserved.ok());
  EXPECT_THAT(reserved.error().message(), HasSubstr("not starting 'amq.'"));
}

TEST(RabbitMqBroker, UnknownExchangeIsNamedAtConnect) {
  auto broker = MakeBroker(SharedRabbitMq().Url(), {{"exchange", "amq.nosuch"}});
  ASSERT_OK(broker);
  Status s = (*broker)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("amq.nosuch"));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
}

TEST(RabbitMqCredentials, UserFromTheEnvironmentAndAClearErrorWhenWrong) {
  RabbitMqServer& server = SharedRabbitMq();
  (void)server.Ctl("delete_user ferry-env");
  ASSERT_OK(server.Ctl("add_user ferry-env s3cret-pass"));
  ASSERT_OK(server.Ctl("set_permissions -p / ferry-env '.*' '.*' '.*'"));
  ::setenv("FERRY_AMQP_USER", "ferry-env", 1);
  ::setenv("FERRY_AMQP_PASSWORD", "s3cret-pass", 1);
  auto good = MakeBroker(server.Url(), {});
  ::unsetenv("FERRY_AMQP_USER");
  ::unsetenv("FERRY_AMQP_PASSWORD");
  ASSERT_OK(good);
  ASSERT_OK((*good)->Connect());
  Sink sink;
  auto sub = (*good)->Subscribe({.pattern = "cred.t", .manual_ack = false}, sink.Handler());
  ASSERT_OK(sub);
  ASSERT_OK((*good)->Publish(TestMessage("cred.t", "as ferry-env"), Clock::now() + 5s));
  EXPECT_EQ(sink.WaitFor(1), 1u);

  auto bad = MakeBroker("amqp://ferry-env:wrong-pass@127.0.0.1:" + std::to_string(server.port()), {});
  ASSERT_OK(bad);
  Status s = (*bad)->Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kPermissionDenied) << s.error().message();
  EXPECT_THAT(s.error().message(), HasSubstr("ACCESS_REFUSED"));
  EXPECT_THAT(s.error().message(), HasSubstr("ferry-env"));
  EXPECT_THAT(s.error().message(), ::testing::Not(HasSubstr("wrong-pass")));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
  EXPECT_EQ((*bad)->DisplayUrl().find("wrong-pass"), std::string::npos);
}

TEST(RabbitMqBroker, PrefetchHoldsBackDeliveriesBeyondMaxInFlight) {
  auto broker = MakeBroker(SharedRabbitMq().Url(), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  Sink sink;
  auto sub = (*broker)->Subscribe({.pattern = "rq1.slow", .manual_ack = true, .max_in_flight = 2},
                                  sink.Handler());
  ASSERT_OK(sub);
  for (int i = 0; i < 5; ++i)
    ASSERT_OK((*broker)->Publish(TestMessage("rq1.slow", std::to_string(i)), Clock::now() + 5s));
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

// A nack waiting for its delay keeps its prefetch slot.
TEST(RabbitMqBroker, NacksWaitingForTheirDelayCountAgainstMaxInFlight) {
  auto broker = MakeBroker(SharedRabbitMq().Url(), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  std::atomic<int> calls{0};
  auto sub = (*broker)->Subscribe({.pattern = "rq2.nack", .manual_ack = true, .max_in_flight = 2},
                                  [&](Delivery d) {
                                    ++calls;
                                    ASSERT_OK(d.acker->Nack(std::chrono::hours(1)));
                                  });
  ASSERT_OK(sub);
  for (int i = 0; i < 6; ++i)
    ASSERT_OK((*broker)->Publish(TestMessage("rq2.nack", std::to_string(i)), Clock::now() + 5s));
  for (int i = 0; i < 500 && calls.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(calls.load(), 2);
}

// A message from another AMQP client carries no message_id; its
// redeliveries still count 1, 2, 3 (found by the conformance suite: they
// used to count 2 forever, so max_attempts never ended a failing one).
TEST(RabbitMqBroker, ForeignMessagesWithoutAnIdCountTheirAttempts) {
  const std::string url = SharedRabbitMq().Url();
  auto broker = MakeBroker(url, {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  std::mutex mutex;
  std::vector<std::uint32_t> attempts;
  auto sub = (*broker)->Subscribe({.pattern = "rq5.count", .manual_ack = true}, [&](Delivery d) {
    std::lock_guard lock(mutex);
    attempts.push_back(d.attempt);
    ASSERT_OK(attempts.size() < 3 ? d.acker->Nack(10ms) : d.acker->Ack());
  });
  ASSERT_OK(sub);
  EXPECT_EQ(Shell("amqp-publish -u " + url + " -e amq.topic -r rq5.count -b foreign"), "");
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard lock(mutex);
      if (attempts.size() >= 3) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(300ms);
  std::lock_guard lock(mutex);
  EXPECT_EQ(attempts, (std::vector<std::uint32_t>{1, 2, 3}));
}

// Term rejects without requeue: the queue's dead-letter exchange gets it.
TEST(RabbitMqBroker, TermGoesToTheDeadLetterExchange) {
  const std::string url = SharedRabbitMq().Url();
  auto broker = MakeBroker(url, {{"dead_letter_exchange", "amq.fanout"}});
  auto dead = MakeBroker(url, {{"exchange", "amq.fanout"}});
  ASSERT_OK(broker);
  ASSERT_OK(dead);
  ASSERT_OK((*broker)->Connect());
  ASSERT_OK((*dead)->Connect());
  Sink graveyard, work;
  auto s1 = (*dead)->Subscribe({.pattern = "any", .manual_ack = false}, graveyard.Handler());
  auto s2 = (*broker)->Subscribe({.pattern = "rq3.work", .manual_ack = true}, work.Handler());
  ASSERT_OK(s1);
  ASSERT_OK(s2);
  ASSERT_OK((*broker)->Publish(TestMessage("rq3.work", "doomed"), Clock::now() + 5s));
  ASSERT_EQ(work.WaitFor(1), 1u);
  ASSERT_OK(work.At(0).acker->Term());
  ASSERT_EQ(graveyard.WaitFor(1), 1u);
  EXPECT_EQ(graveyard.At(0).message.data.view(), "doomed");
  EXPECT_EQ(graveyard.At(0).message.topic, "rq3.work");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(work.size(), 1u);  // not requeued
}

TEST(RabbitMqBroker, StateChangesAreReported) {
  auto broker = MakeBroker(SharedRabbitMq().Url(), {});
  ASSERT_OK(broker);
  std::mutex mutex;
  std::vector<ConnectionState> states;
  (*broker)->OnStateChange([&](ConnectionState s) {
    std::lock_guard lock(mutex);
    states.push_back(s);
  });
  ASSERT_OK((*broker)->Connect());
  (*broker)->Close();
  std::lock_guard lock(mutex);
  EXPECT_EQ(states, (std::vector<ConnectionState>{ConnectionState::kConnecting,
                                                  ConnectionState::kConnected,
                                                  ConnectionState::kClosed}));
}

class RabbitMqHost : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<RunningHost>(
        ExamplesOnBroker("default = \"" + SharedRabbitMq().Url() + "\"", "rmq"));
    ASSERT_OK(host_->start_status());
  }
  std::unique_ptr<RunningHost> host_;
};

TEST_F(RabbitMqHost, EchoKeepsDataContentTypeAndMetadata) {
  ExpectEchoRoundTrip(*host_, "rmq.echo.in", "over amqp");
}

TEST_F(RabbitMqHost, RequestCollectsRepliesFromTwoComponents) {
  ExpectTwoRepliesThenATimeout(*host_, "rmq", 5s);
}

// amqp-consume waits on echo.out while amqp-publish sends bytes no text
// tool would keep (NUL, 0xff, no final newline) into the echo component.
TEST_F(RabbitMqHost, AmqpToolsTalkToFerryByteExact) {
  RabbitMqServer& server = SharedRabbitMq();
  TempDir dir;
  const std::string payload = std::string("amqp\0tools\xff\n\x01 end", 17);
  const auto in = dir.Write("in.bin", payload);
  const auto out = dir.path() / "out.bin";
  const std::string url = server.Url();
  std::thread consumer([&] {
    // Its own lines ("Server provided queue name") go to stderr, not the file.
    Shell("(timeout 30 amqp-consume -u " + url + " -e amq.topic -r echo.out -c 1 cat > " +
          out.string() + ")");
  });
  // amqp-consume is listening once its queue is bound to echo.out.
  bool bound = false;
  for (int i = 0; i < 60 && !bound; ++i) {
    auto bindings = server.Ctl("list_bindings -q routing_key");
    bound = bindings.ok() && bindings->find("echo.out") != std::string::npos;
    if (!bound) std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(bound) << "amqp-consume never bound its queue";
  EXPECT_EQ(Shell("amqp-publish -u " + url + " -e amq.topic -r rmq.echo.in -C application/x-test < " +
                  in.string()),
            "");
  consumer.join();
  std::ifstream got(out, std::ios::binary);
  const std::string received((std::istreambuf_iterator<char>(got)), std::istreambuf_iterator<char>());
  EXPECT_EQ(received, payload);
}

// A request from an AMQP client that is not Ferry (reply_to a queue of its
// own): greeter and shouter answer into that queue.
TEST_F(RabbitMqHost, ForeignRequestGetsRepliesInItsQueue) {
  RabbitMqServer& server = SharedRabbitMq();
  const std::string url = server.Url();
  const std::string queue = "replies-" + std::to_string(::getpid());
  std::string received;
  std::thread consumer([&] {
    received = Shell("timeout 30 amqp-consume -u " + url + " -q " + queue + " -x -c 2 cat 2>/dev/null");
  });
  bool declared = false;
  for (int i = 0; i < 60 && !declared; ++i) {
    auto queues = server.Ctl("list_queues -q name");
    declared = queues.ok() && queues->find(queue) != std::string::npos;
    if (!declared) std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(declared) << "amqp-consume never declared " << queue;
  EXPECT_EQ(Shell("amqp-publish -u " + url + " -e amq.topic -r rmq.greet -t " + queue + " -b amqp"),
            "");
  consumer.join();
  EXPECT_THAT(received, HasSubstr("hello, amqp"));
  EXPECT_THAT(received, HasSubstr("HELLO, AMQP"));
}

// A plain rabbitmq-c consumer of `routing_key` on amq.topic: the next
// message's AMQP headers as "key=value" strings (empty on a timeout).
std::vector<std::string> NextHeaders(const std::string& url_host, int port, const std::string& routing_key,
                                     const std::function<void()>& then_publish) {
  std::vector<std::string> out;
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  EXPECT_EQ(amqp_socket_open(socket, url_host.c_str(), port), AMQP_STATUS_OK);
  EXPECT_EQ(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type,
            AMQP_RESPONSE_NORMAL);
  amqp_channel_open(conn, 1);
  amqp_queue_declare_ok_t* q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
  EXPECT_NE(q, nullptr);
  const amqp_bytes_t queue = amqp_bytes_malloc_dup(q->queue);
  amqp_queue_bind(conn, 1, queue, amqp_cstring_bytes("amq.topic"), amqp_cstring_bytes(routing_key.c_str()),
                  amqp_empty_table);
  amqp_basic_consume(conn, 1, queue, amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
  EXPECT_EQ(amqp_get_rpc_reply(conn).reply_type, AMQP_RESPONSE_NORMAL);
  then_publish();
  amqp_envelope_t envelope;
  timeval timeout{20, 0};
  amqp_maybe_release_buffers(conn);
  if (amqp_consume_message(conn, &envelope, &timeout, 0).reply_type == AMQP_RESPONSE_NORMAL) {
    const amqp_basic_properties_t& p = envelope.message.properties;
    if (p._flags & AMQP_BASIC_HEADERS_FLAG)
      for (int i = 0; i < p.headers.num_entries; ++i) {
        const amqp_table_entry_t& e = p.headers.entries[i];
        const std::string key(static_cast<const char*>(e.key.bytes), e.key.len);
        std::string value = "<not text>";
        if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES)
          value.assign(static_cast<const char*>(e.value.value.bytes.bytes), e.value.value.bytes.len);
        out.push_back(key + "=" + value);
      }
    amqp_destroy_envelope(&envelope);
  }
  amqp_bytes_free(queue);
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return out;
}

// CloudEvents over AMQP: amqp-publish's event (the binding's cloudEvents_
// headers, the form the `:` one may be written in) reaches a component as
// ce- keys, and a component stamping its sends puts cloudEvents: headers on
// the wire.
TEST(RabbitMqCloudEvents, BindingHeadersAreCeKeysForComponentsAndBackOnTheWire) {
  RabbitMqServer& server = SharedRabbitMq();
  RunningHost h("[brokers]\ndefault = \"" + server.Url() + "\"\n" + CloudEventsComponents("rce"));
  ASSERT_OK(h.start_status());
  const std::string event = " -H 'cloudEvents_specversion: 1.0' -H 'cloudEvents_id: ev-1'"
                            " -H 'cloudEvents_source: /sensors/7' -H 'cloudEvents_type: com.example.reading'";
  Inbox& inspected = h.Listen("misbehave.out");
  EXPECT_EQ(Shell("amqp-publish -u " + server.Url() + " -e amq.topic -r rce.inspect" + event + " -b inspect"), "");
  auto got = inspected.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  ExpectTheTestEventAsCeKeys(std::string(got[0].data.view()));

  const std::vector<std::string> headers = NextHeaders("127.0.0.1", server.port(), "echo.out", [&] {
    EXPECT_EQ(Shell("amqp-publish -u " + server.Url() + " -e amq.topic -r rce.echo" + event + " -b hi"), "");
  });
  EXPECT_THAT(headers, ::testing::Contains("cloudEvents:specversion=1.0"));
  EXPECT_THAT(headers, ::testing::Contains("cloudEvents:type=com.example.echoed"));
  EXPECT_THAT(headers, ::testing::Contains("cloudEvents:source=/ferry/echo"));
  EXPECT_THAT(headers, ::testing::Not(::testing::Contains("cloudEvents:id=ev-1"))) << "a new event, a new id";
  EXPECT_THAT(headers, ::testing::Contains(::testing::StartsWith("cloudEvents:time=")));
  for (const std::string& h : headers) EXPECT_FALSE(h.starts_with("ce-")) << h;
}

TEST(RabbitMqQueueGroup, TwoFerryProcessesShareOneQueue) {
  const std::string url = SharedRabbitMq().Url();
  ExpectTwoHostsShareTheWork("default = \"" + url + "\"", url, {}, "rmqg.in", 100);
}

}  // namespace
}  // namespace ferry::testing
