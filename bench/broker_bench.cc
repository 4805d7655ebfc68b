// The echo benchmark on each real broker: the echo example component through
// Ferry, beside the same echo written directly on that broker's C client
// (cnats, libmosquitto, hiredis, rabbitmq-c), the floor Ferry's overhead is measured
// against. Both echoes are driven the same way: one publisher sends N
// messages to echo.in through Ferry's adapter and times until N arrived on
// echo.out. Servers are started from Debian's packages on free loopback ports.
//
// Each case runs `--rounds` times (default 3), the Ferry echo and the
// native one alternating which goes first; medians are printed, and the
// ratio is the median of the per-round ratios. The message count of a case
// grows (up to 200×) so that a native run lasts about `--seconds` (default
// 0.5; 0.2 with --quick): longer runs for a steadier ratio.
//
//   ferry_broker_bench [--quick] [--rounds N] [--seconds S]
//                      [nats|nats-jetstream|mqtt|redis|redis-streams|rabbitmq|kafka ...]
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "brokers/broker.h"
#include "brokers/registry.h"
#include "bench_support.h"
#include "jetstream_echo.h"
#include "ferry/host.h"
#include "support/ports.h"
#if FERRY_WITH_KAFKA
#include "kafka_echo.h"
#include "support/kafka_config.h"
#endif

namespace {

using namespace ferry;
using namespace std::chrono_literals;
using bench::Counter;

// A broker server for the length of one benchmark. `env` is added to its
// environment; with `ready` (a shell command) it is ready once that
// succeeds, else once the port accepts connections. `companion` (RabbitMQ's
// epmd) is stopped after it.
class Server {
 public:
  Server(std::vector<std::string> argv, std::uint16_t port,
         std::vector<std::pair<std::string, std::string>> env = {}, const std::string& ready = "",
         std::unique_ptr<Server> companion = nullptr)
      : port_(port), companion_(std::move(companion)) {
    std::fflush(stdout);  // or the child would print our buffered lines again
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      std::freopen("/dev/null", "w", stdout);
      std::freopen("/dev/null", "w", stderr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    if (!ready.empty()) {
      if (std::system(ready.c_str()) != 0) {
        std::fprintf(stderr, "%s did not start\n", argv[0].c_str());
        std::exit(1);
      }
      return;
    }
    // Up to a minute: a JVM (Kafka) on a busy machine takes a while.
    for (int i = 0; i < 6000 && !testing::PortAcceptsConnections(port_); ++i) std::this_thread::sleep_for(10ms);
    if (!testing::PortAcceptsConnections(port_)) {
      std::fprintf(stderr, "%s did not start\n", argv[0].c_str());
      std::exit(1);
    }
  }
  ~Server() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  std::uint16_t port_;
  std::unique_ptr<Server> companion_;  // destroyed after the server stopped
  pid_t pid_;
};

// RabbitMQ as tests/support/rabbitmq_server.h starts it: its own epmd, the
// node run directly (the VM replaces the script), ready when `rabbitmqctl
// wait` returns.
std::unique_ptr<Server> RabbitServer(std::uint16_t port, const std::string& dir) {
  const std::uint16_t epmd_port = testing::FreePort();
  auto epmd = std::make_unique<Server>(
      std::vector<std::string>{"epmd", "-port", std::to_string(epmd_port), "-address", "127.0.0.1"},
      epmd_port);
  std::ofstream(dir + "/empty.conf");
  const std::string node = "bench" + std::to_string(port) + "@localhost";
  std::vector<std::pair<std::string, std::string>> env = {
      {"HOME", dir}, {"ERL_EPMD_PORT", std::to_string(epmd_port)}, {"RABBITMQ_NODENAME", node},
      {"RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1"}, {"RABBITMQ_NODE_PORT", std::to_string(port)},
      {"RABBITMQ_DIST_PORT", std::to_string(testing::FreePort())},
      {"RABBITMQ_MNESIA_BASE", dir + "/mnesia"}, {"RABBITMQ_LOG_BASE", dir + "/log"},
      {"RABBITMQ_PID_FILE", dir + "/rabbit.pid"}, {"RABBITMQ_CONF_ENV_FILE", dir + "/empty.conf"},
      {"RABBITMQ_ALLOW_INPUT", "1"},
      {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1} -noinput"}};
  std::string ready;
  for (const auto& [k, v] : env)
    if (k == "HOME" || k == "ERL_EPMD_PORT" || k == "RABBITMQ_NODENAME" || k == "RABBITMQ_CONF_ENV_FILE")
      ready += k + "=" + v + " ";
  ready += "/usr/lib/rabbitmq/bin/rabbitmqctl wait --timeout 90 " + dir + "/rabbit.pid >/dev/null 2>&1";
  return std::make_unique<Server>(std::vector<std::string>{"/usr/lib/rabbitmq/bin/rabbitmq-server"},
                                  port, env, ready, std::move(epmd));
}

// Sends `count` messages of `size` bytes through the driver, never more
// than 1,000 messages or 8 MiB ahead of the echoes (NATS drops messages for
// a subscriber with 64 MB pending, Redis pub/sub disconnects it), and
// returns echoes per second. A lost message fails the run after 120 s.
// The driver publishes pipelined (PublishAsync: into its adapter's window of
// unconfirmed publishes), so that the echo, not the driver's round trips,
// is measured. A publish the broker then reports lost is counted and
// printed; its echo never comes and the run times out.
std::atomic<std::uint64_t> g_lost{0};
// The driver's publishes not confirmed yet. An echo can arrive before its
// publish is confirmed (MQTT: the server forwards before its PUBACK), so
// the driver waits for these before it closes (UntilConfirmed).
std::atomic<std::uint64_t> g_unconfirmed{0};

double Pump(Broker& broker, Counter& arrived, std::size_t size, std::uint64_t count) {
  const std::uint64_t window = std::clamp<std::uint64_t>((8u << 20) / size, 16, 1000);
  return bench::Pump(
             [&](const Message& m) {
               g_unconfirmed.fetch_add(1);
               Status taken = broker.PublishAsync(m, Clock::now() + 30s, [](Status s) {
                 if (!s.ok() && g_lost.fetch_add(1) == 0)
                   std::fprintf(stderr, "a driver publish was lost: %s\n", s.error().ToString().c_str());
                 g_unconfirmed.fetch_sub(1);
               });
               if (!taken.ok()) g_unconfirmed.fetch_sub(1);  // `done` is never called then
               return taken;
             },
             arrived, bench::EchoMessage(size), count, 120s, window)
      .rate;
}

// Waits (at most 10 s) until the broker confirmed every publish of the
// driver, so that closing it loses none.
void UntilConfirmed() {
  const auto until = Clock::now() + 10s;
  while (g_unconfirmed.load() > 0 && Clock::now() < until) std::this_thread::sleep_for(1ms);
}

// ---- native echoes, one per client library --------------------------------

class NativeEcho {
 public:
  virtual ~NativeEcho() = default;
};

class NatsEcho final : public NativeEcho {
 public:
  explicit NatsEcho(const std::string& url) {
    natsConnection_ConnectTo(&conn_, url.c_str());
    natsConnection_Subscribe(&sub_, conn_, "echo.in", &NatsEcho::On, this);
    natsConnection_Flush(conn_);
  }
  ~NatsEcho() override {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(conn_);
  }

 private:
  static void On(natsConnection* nc, natsSubscription*, natsMsg* in, void*) {
    natsMsg* out = nullptr;
    natsMsg_Create(&out, "echo.out", nullptr, natsMsg_GetData(in), natsMsg_GetDataLength(in));
    const char** keys = nullptr;
    int n = 0;
    if (natsMsgHeader_Keys(in, &keys, &n) == NATS_OK) {
      for (int i = 0; i < n; ++i) {
        const char* v = nullptr;
        if (natsMsgHeader_Get(in, keys[i], &v) == NATS_OK) natsMsgHeader_Set(out, keys[i], v);
      }
      std::free(keys);
    }
    natsConnection_PublishMsg(nc, out);
    natsMsg_Destroy(out);
    natsMsg_Destroy(in);
  }
  natsConnection* conn_ = nullptr;
  natsSubscription* sub_ = nullptr;
};

class MqttEcho final : public NativeEcho {
 public:
  explicit MqttEcho(std::uint16_t port) {
    mosquitto_lib_init();
    mosq_ = mosquitto_new(nullptr, true, this);
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_message_v5_callback_set(mosq_, &MqttEcho::On);
    mosquitto_connect_bind_v5(mosq_, "127.0.0.1", port, 30, nullptr, nullptr);
    mosquitto_subscribe_v5(mosq_, nullptr, "echo/in", 1, 0, nullptr);
    mosquitto_loop_start(mosq_);
    std::this_thread::sleep_for(300ms);  // SUBACK
  }
  ~MqttEcho() override {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, true);
    mosquitto_destroy(mosq_);
  }

 private:
  static void On(mosquitto* m, void*, const mosquitto_message* in, const mosquitto_property* props) {
    mosquitto_property* copy = nullptr;
    mosquitto_property_copy_all(&copy, props);
    // Subscription identifiers may not be sent in a PUBLISH.
    mosquitto_property* clean = nullptr;
    for (const mosquitto_property* p = copy; p; p = mosquitto_property_next(p)) {
      if (mosquitto_property_identifier(p) == MQTT_PROP_USER_PROPERTY) {
        char *k = nullptr, *v = nullptr;
        mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false);
        mosquitto_property_add_string_pair(&clean, MQTT_PROP_USER_PROPERTY, k, v);
        std::free(k);
        std::free(v);
      } else if (mosquitto_property_identifier(p) == MQTT_PROP_CONTENT_TYPE) {
        char* v = nullptr;
        mosquitto_property_read_string(p, MQTT_PROP_CONTENT_TYPE, &v, false);
        mosquitto_property_add_string(&clean, MQTT_PROP_CONTENT_TYPE, v);
        std::free(v);
      }
    }
    mosquitto_publish_v5(m, nullptr, "echo/out", in->payloadlen, in->payload, 1, false, clean);
    mosquitto_property_free_all(&copy);
    mosquitto_property_free_all(&clean);
  }
  mosquitto* mosq_ = nullptr;
};

class RedisPubSubEcho final : public NativeEcho {
 public:
  explicit RedisPubSubEcho(std::uint16_t port) {
    sub_ = redisConnect("127.0.0.1", port);
    pub_ = redisConnect("127.0.0.1", port);
    freeReplyObject(redisCommand(sub_, "SUBSCRIBE echo.in"));
    thread_ = std::thread([this] {
      void* raw = nullptr;
      while (redisGetReply(sub_, &raw) == REDIS_OK) {
        auto* r = static_cast<redisReply*>(raw);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3)
          freeReplyObject(redisCommand(pub_, "PUBLISH echo.out %b", r->element[2]->str,
                                       r->element[2]->len));
        freeReplyObject(r);
      }
    });
  }
  ~RedisPubSubEcho() override {
    ::shutdown(sub_->fd, SHUT_RDWR);
    thread_.join();
    redisFree(sub_);
    redisFree(pub_);
  }

 private:
  redisContext* sub_ = nullptr;
  redisContext* pub_ = nullptr;
  std::thread thread_;
};

// hiredis with the guarantee Ferry gives: an entry of echo.in is XACKed
// only after the XADD of its copy was answered. Each XREADGROUP batch is
// pipelined (its XADDs written together, their replies read in order,
// then one XACK for the batch), as Ferry's pipelined sends do.
class RedisStreamsEcho final : public NativeEcho {
 public:
  explicit RedisStreamsEcho(std::uint16_t port) {
    ctx_ = redisConnect("127.0.0.1", port);
    freeReplyObject(redisCommand(ctx_, "XGROUP CREATE echo.in native $ MKSTREAM"));
    thread_ = std::thread([this] {
      while (!stop_) {
        auto* r = static_cast<redisReply*>(redisCommand(
            ctx_, "XREADGROUP GROUP native n1 COUNT 256 BLOCK 100 STREAMS echo.in >"));
        if (!r) return;
        if (r->type == REDIS_REPLY_ARRAY) {
          const redisReply* entries = r->element[0]->element[1];
          std::vector<const char*> ack{"XACK", "echo.in", "native"};
          std::vector<std::size_t> ack_lens{4, 7, 6};
          for (std::size_t i = 0; i < entries->elements; ++i) {
            const redisReply* e = entries->element[i];
            const redisReply* f = e->element[1];
            std::vector<const char*> argv{"XADD", "echo.out", "*"};
            std::vector<std::size_t> lens{4, 8, 1};
            for (std::size_t k = 0; k < f->elements; ++k) {
              argv.push_back(f->element[k]->str);
              lens.push_back(f->element[k]->len);
            }
            redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
            ack.push_back(e->element[0]->str);
            ack_lens.push_back(e->element[0]->len);
          }
          bool stored = true;
          for (std::size_t i = 0; i < entries->elements; ++i) {
            void* reply = nullptr;
            if (redisGetReply(ctx_, &reply) != REDIS_OK || !reply) return;
            stored = stored && static_cast<redisReply*>(reply)->type != REDIS_REPLY_ERROR;
            freeReplyObject(reply);
          }
          if (stored && entries->elements > 0)
            freeReplyObject(redisCommandArgv(ctx_, static_cast<int>(ack.size()), ack.data(),
                                             ack_lens.data()));
        }
        freeReplyObject(r);
      }
    });
  }
  ~RedisStreamsEcho() override {
    stop_ = true;
    thread_.join();
    freeReplyObject(redisCommand(ctx_, "XGROUP DESTROY echo.in native"));
    redisFree(ctx_);
  }

 private:
  redisContext* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// rabbitmq-c with the guarantee Ferry gives: each echo is published
// persistent, and the incoming message is acknowledged only once the
// publisher confirm for its echo arrived. One connection consumes (manual
// acks, prefetch as Ferry's subscription: queue_depth + workers), one
// publishes in confirm mode, as Ferry's adapter. Pipelined: copies go out
// as messages arrive, and each confirm (RabbitMQ's `multiple` acks cover
// runs of them) acks the originals it covers in one multiple ack.
class RabbitEcho final : public NativeEcho {
 public:
  explicit RabbitEcho(std::uint16_t port) {
    in_ = Open(port);
    out_ = Open(port);
    amqp_confirm_select(out_, 1);
    amqp_get_rpc_reply(out_);
    amqp_basic_qos(in_, 1, 0, 1025, 0);
    amqp_queue_declare_ok_t* q = amqp_queue_declare(in_, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    const amqp_bytes_t queue = amqp_bytes_malloc_dup(q->queue);
    amqp_queue_bind(in_, 1, queue, amqp_cstring_bytes("amq.topic"), amqp_cstring_bytes("echo.in"),
                    amqp_empty_table);
    amqp_basic_consume(in_, 1, queue, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    amqp_get_rpc_reply(in_);
    amqp_bytes_free(queue);
    thread_ = std::thread([this] { Run(); });
  }
  ~RabbitEcho() override {
    stop_ = true;
    thread_.join();
    for (amqp_connection_state_t c : {in_, out_}) {
      amqp_connection_close(c, AMQP_REPLY_SUCCESS);
      amqp_destroy_connection(c);
    }
  }

 private:
  static amqp_connection_state_t Open(std::uint16_t port) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_open(amqp_tcp_socket_new(c), "127.0.0.1", port);
    amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
    amqp_channel_open(c, 1);
    amqp_get_rpc_reply(c);
    return c;
  }
  void Run() {
    std::deque<std::uint64_t> originals;  // delivery tags, in the order their copies went out
    std::uint64_t confirmed = 0;          // copies confirmed so far (their tags are 1, 2, ...)
    while (!stop_) {
      amqp_maybe_release_buffers(in_);
      timeval wait = originals.empty() ? timeval{0, 100000} : timeval{0, 0};
      amqp_envelope_t e;
      const amqp_rpc_reply_t r = amqp_consume_message(in_, &e, &wait, 0);
      if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        amqp_basic_properties_t props = e.message.properties;
        props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        amqp_basic_publish(out_, 1, amqp_cstring_bytes("amq.topic"), amqp_cstring_bytes("echo.out"),
                           0, 0, &props, e.message.body);
        originals.push_back(e.delivery_tag);
        amqp_destroy_envelope(&e);
      }
      // The confirms that came meanwhile: nothing else arrives on out_.
      std::uint64_t upto = confirmed;
      amqp_frame_t f;
      timeval none{0, originals.empty() ? 0 : 200};
      while (amqp_simple_wait_frame_noblock(out_, &f, &none) == AMQP_STATUS_OK) {
        if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_ACK_METHOD)
          upto = std::max<std::uint64_t>(
              upto, static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded)->delivery_tag);
        none = timeval{0, 0};
      }
      if (upto > confirmed) {
        std::uint64_t last = 0;
        for (; confirmed < upto && !originals.empty(); ++confirmed) {
          last = originals.front();
          originals.pop_front();
        }
        amqp_basic_ack(in_, 1, last, /*multiple=*/1);
      }
    }
  }
  amqp_connection_state_t in_ = nullptr, out_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

#if FERRY_WITH_KAFKA
class KafkaEcho final : public NativeEcho {
 public:
  explicit KafkaEcho(std::uint16_t port)
      : echo_(bench::MakeKafkaNativeEcho("127.0.0.1:" + std::to_string(port))) {}

 private:
  std::unique_ptr<bench::KafkaNativeEcho> echo_;
};
#endif

struct Target {
  std::string name;
  std::function<std::unique_ptr<Server>(std::uint16_t port, const std::string& dir)> server;
  std::function<std::string(std::uint16_t port)> url;
  std::map<std::string, std::string> broker_options;
  std::string broker_toml;  // extra settings in the [brokers] entry
  std::string component_toml;
  std::function<std::unique_ptr<NativeEcho>(std::uint16_t port)> native;
  std::map<std::string, std::string> sink_extensions;  // the driver's echo.out subscription
};

void RunTarget(const Target& t, bool quick, int rounds, double seconds) {
  const std::uint16_t port = testing::FreePort();
  const auto dir = std::filesystem::temp_directory_path() / ("ferry-bench-" + t.name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto server = t.server(port, dir.string());
  const std::string url = t.url(port);

  auto config = bench::WriteConfig("ferry-broker-bench", "[host]\nlog_level = \"error\"\n[brokers]\ndefault = { url = \"" + url + "\"" +
                            t.broker_toml + " }\n[[component]]\nname = \"echo\"\npath = \"" +
                            std::string(FERRY_COMPONENT_DIR) + "/echo.wasm\"\nsubscribe = [\"echo.in\"]\nallow_publish = [\"echo.out\"]\n" +
                            t.component_toml);
  auto driver = MakeBroker(url, t.broker_options);
  if (!driver.ok() || !(*driver)->Connect().ok()) {
    std::fprintf(stderr, "%s: cannot connect the driver\n", t.name.c_str());
    std::exit(1);
  }
  Counter arrived;
  auto sink = (*driver)->Subscribe(
      {.pattern = "echo.out", .manual_ack = false, .extensions = t.sink_extensions},
      [&](Delivery) { arrived.Add(); });
  if (!sink.ok()) {
    std::fprintf(stderr, "%s: %s\n", t.name.c_str(), sink.error().ToString().c_str());
    std::exit(1);
  }
  std::this_thread::sleep_for(300ms);

  struct Case { std::size_t size; std::uint64_t count; const char* label; };
  const std::uint64_t scale = quick ? 10 : 1;
  const Case cases[] = {{16, 10000 / scale, "16 B"}, {1024, 10000 / scale, "1 KiB"},
                        {65536, 500 / scale, "64 KiB"}};
  for (const Case& c0 : cases) {
    // Fast brokers get longer runs: size them to about half a second of the
    // native echo (never fewer messages than the case lists).
    Case c = c0;
    {
      auto native = t.native(port);
      std::this_thread::sleep_for(300ms);
      // A short warm-up first: a broker's first messages (a JVM compiling,
      // a consumer's first fetch) are slower than its steady rate, which is
      // what the sizing needs.
      Pump(**driver, arrived, c.size, c.count / 10 + 1);
      const double rate = Pump(**driver, arrived, c.size, c.count);
      c.count = bench::CountFor(rate, seconds, c.count, 200 * c.count);
    }
    auto ferry_run = [&] {
      auto host = Host::Create({.config_file = config});
      if (!host.ok() || !(*host)->Start().ok()) {
        std::fprintf(stderr, "%s: cannot start the host\n", t.name.c_str());
        std::exit(1);
      }
      std::this_thread::sleep_for(300ms);
      Pump(**driver, arrived, c.size, c.count / 10 + 1);  // warm-up
      const double rate = Pump(**driver, arrived, c.size, c.count);
      (*host)->Stop(1s);
      return rate;
    };
    auto native_run = [&] {
      auto native = t.native(port);
      std::this_thread::sleep_for(300ms);
      Pump(**driver, arrived, c.size, c.count / 10 + 1);
      return Pump(**driver, arrived, c.size, c.count);
    };
    std::vector<double> ferry_rates, native_rates, ratios;
    for (int r = 0; r < rounds; ++r) {
      double f = 0, n = 0;
      if (r % 2 == 0) {
        f = ferry_run();
        n = native_run();
      } else {
        n = native_run();
        f = ferry_run();
      }
      ferry_rates.push_back(f);
      native_rates.push_back(n);
      ratios.push_back(f / n);
    }
    const double ratio = bench::Median(ratios);
    const std::string target =
        c.size <= 1024 ? std::string("≥ 0.8: ") + bench::Verdict(ratio >= 0.8) : "";
    std::printf("| %s | %s | %llu | %.0f | %.0f | %.3f | %s |\n", t.name.c_str(), c.label,
                static_cast<unsigned long long>(c.count), bench::Median(ferry_rates),
                bench::Median(native_rates), ratio, target.c_str());
    std::fflush(stdout);
  }
  sink->reset();
  UntilConfirmed();
  (*driver)->Close();
  std::filesystem::remove(config);
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int rounds = 3;
  double seconds = 0;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atof(argv[++i]);
    else only.emplace_back(argv[i]);
  }
  if (seconds <= 0) seconds = quick ? 0.2 : 0.5;
  (void)SetLogLevel("error");
  auto redis_server = [](std::uint16_t port, const std::string& dir) {
    return std::make_unique<Server>(std::vector<std::string>{"redis-server", "--port", std::to_string(port),
                                                             "--bind", "127.0.0.1", "--dir", dir,
                                                             "--save", "",
                                                             // By default Redis disconnects a pub/sub
                                                             // client 32 MB behind: a 64 KiB run would
                                                             // lose the echo's connection.
                                                             "--client-output-buffer-limit", "pubsub 0 0 0"},
                                    port);
  };
  const std::vector<Target> targets = {
      {"nats",
       [](std::uint16_t port, const std::string&) {
         return std::make_unique<Server>(
             std::vector<std::string>{"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port)}, port);
       },
       [](std::uint16_t port) { return "nats://127.0.0.1:" + std::to_string(port); }, {}, "", "",
       [](std::uint16_t port) {
         return std::make_unique<NatsEcho>("nats://127.0.0.1:" + std::to_string(port));
       }},
      {"nats-jetstream",
       [](std::uint16_t port, const std::string& dir) {
         auto server = std::make_unique<Server>(
             std::vector<std::string>{"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port),
                                      "-js", "-sd", dir + "/js"},
             port);
         // echo.in's stream, read by both echoes from new messages on.
         bench::MakeJetStreamStream("nats://127.0.0.1:" + std::to_string(port), "BIN", "echo.in");
         return server;
       },
       [](std::uint16_t port) { return "nats://127.0.0.1:" + std::to_string(port); },
       {{"jetstream", "echo.in,echo.out"}}, ", jetstream = \"echo.in,echo.out\"",
       "extensions = { stream = \"BIN\", deliver = \"new\" }\n",
       [](std::uint16_t port) {
         struct Echo final : NativeEcho {
           explicit Echo(std::unique_ptr<bench::JetStreamNativeEcho> e) : echo(std::move(e)) {}
           std::unique_ptr<bench::JetStreamNativeEcho> echo;
         };
         // As many unacknowledged as Ferry's echo subscription allows (queue_depth + workers).
         return std::make_unique<Echo>(bench::MakeJetStreamNativeEcho(
             "nats://127.0.0.1:" + std::to_string(port), "BIN", 1025));
       },
       {{"stream", "BOUT"}, {"deliver", "new"}}},
      {"mqtt",
       [](std::uint16_t port, const std::string& dir) {
         // Mosquitto drops QoS 1 messages beyond 1000 queued for a client
         // by default; a benchmark that outruns the echo would lose some.
         const std::string conf = dir + "/mosquitto.conf";
         std::ofstream(conf) << "listener " << port << " 127.0.0.1\nallow_anonymous true\n"
                             << "max_queued_messages 0\n";
         return std::make_unique<Server>(std::vector<std::string>{"mosquitto", "-c", conf}, port);
       },
       [](std::uint16_t port) { return "mqtt://127.0.0.1:" + std::to_string(port); }, {}, "", "",
       [](std::uint16_t port) { return std::make_unique<MqttEcho>(port); }},
      {"redis", redis_server,
       [](std::uint16_t port) { return "redis://127.0.0.1:" + std::to_string(port); }, {}, "", "",
       [](std::uint16_t port) { return std::make_unique<RedisPubSubEcho>(port); }},
      {"redis-streams", redis_server,
       [](std::uint16_t port) { return "redis://127.0.0.1:" + std::to_string(port); },
       // No queue group: a durable group would replay, in the next case,
       // what was published to echo.in while the native echo ran.
       {{"publish", "streams"}}, ", publish = \"streams\"", "",
       [](std::uint16_t port) { return std::make_unique<RedisStreamsEcho>(port); }},
      {"rabbitmq", RabbitServer,
       [](std::uint16_t port) { return "amqp://127.0.0.1:" + std::to_string(port); }, {}, "", "",
       [](std::uint16_t port) { return std::make_unique<RabbitEcho>(port); }},
#if FERRY_WITH_KAFKA
      {"kafka",
       [](std::uint16_t port, const std::string& dir) {
         // Kafka 4.1.1 in KRaft mode, as the tests run it (tests/support/kafka_config.h).
         testing::KafkaPorts ports{port, testing::FreePort(), testing::FreePort()};
         if (Status s = testing::PrepareKafka(dir, ports); !s.ok()) {
           std::fprintf(stderr, "kafka: %s\n", s.error().ToString().c_str());
           std::exit(1);
         }
         return std::make_unique<Server>(testing::KafkaCommand(dir), port);
       },
       [](std::uint16_t port) { return "kafka://127.0.0.1:" + std::to_string(port); },
       {{"connect_timeout_ms", "60000"}}, "", "",
       [](std::uint16_t port) { return std::make_unique<KafkaEcho>(port); }},
#endif
  };
  std::printf("### Echo on real brokers\n\n");
  std::printf("%d rounds per case of about %.1f s of the native echo each, Ferry and native "
              "alternating; medians, ratio = median of per-round ratios.\n\n", rounds, seconds);
  std::printf("| broker | payload | messages | Ferry echo (msg/s) | native echo on the broker's C client (msg/s) | Ferry / native | target |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Target& t : targets) {
    if (!only.empty() && std::find(only.begin(), only.end(), t.name) == only.end()) continue;
    RunTarget(t, quick, rounds, seconds);
  }
  std::printf("\n");
  return 0;
}
