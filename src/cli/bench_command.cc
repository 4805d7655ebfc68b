// ferry bench: publish/subscribe rates and latency, or request round trips,
// through a running host's control socket, on any broker it has configured.
//
//   ferry bench load.test --msgs 10000 --size 128 --pub 2 --sub 2
//   ferry bench greet --request --msgs 2000       # needs a responder on greet
//
// Each message carries the time it was sent (steady clock, nanoseconds) in
// its first 8 bytes, so subscribers measure publish-to-delivery latency.
// Each publisher keeps one control connection for all its publishes (each
// answered before the next); each request is a control call of its own. The
// figures are those of a client talking to ferry, not of the broker alone.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/signal_stop.h"
#include "ferry/control.h"

namespace ferry::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string topic;
  std::uint32_t msgs = 10000;
  std::uint32_t size = 128;
  std::uint32_t publishers = 1;
  std::uint32_t subscribers = 1;
  bool request = false;
  std::uint32_t timeout_ms = 5000;
  std::string broker = "default";
  std::string control;
};

std::uint64_t NowNs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

Message Stamped(const std::string& topic, std::uint32_t size) {
  Message m;
  m.topic = topic;
  std::vector<std::uint8_t> body(std::max<std::uint32_t>(size, 8), 'x');
  const std::uint64_t now = NowNs();
  std::memcpy(body.data(), &now, sizeof now);
  m.data = Bytes(std::move(body));
  return m;
}

std::uint64_t StampOf(const Message& m) {
  std::uint64_t t = 0;
  if (m.data.size() >= sizeof t) std::memcpy(&t, m.data.data(), sizeof t);
  return t;
}

// "p50 p90 p99 max" of latencies in microseconds.
std::string Percentiles(std::vector<double> us) {
  if (us.empty()) return "no samples";
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))]; };
  char line[160];
  std::snprintf(line, sizeof line, "p50 %.0f µs, p90 %.0f µs, p99 %.0f µs, max %.0f µs", at(0.5), at(0.9),
                at(0.99), us.back());
  return line;
}

double Rate(std::uint64_t n, Clock::duration d) {
  const double s = std::chrono::duration<double>(d).count();
  return s > 0 ? n / s : 0;
}

int PubSub(const BenchOptions& o, const std::string& socket, const SignalStop& signals) {
  struct Sub {
    std::vector<double> latency_us;
    std::atomic<Clock::rep> last{0};  // when the latest message came (Clock ticks)
    Status status = Status::Ok();
    std::atomic<bool> ready{false}, done{false};
    Clock::time_point Last() const { return Clock::time_point(Clock::duration(last.load())); }
  };
  // Stopped by a signal, or by the bench itself when publishing failed or
  // subscribers stopped getting messages.
  std::stop_source stop;
  std::stop_callback on_signal(signals.token(), [&] { stop.request_stop(); });
  std::vector<Sub> subs(o.subscribers);
  std::vector<std::thread> sub_threads;
  for (auto& sub : subs) {
    sub.latency_us.reserve(o.msgs);
    sub_threads.emplace_back([&, s = &sub] {
      s->status = ControlSubscribe(
          socket, o.broker, o.topic, o.msgs,
          [s](const Message& m) {
            s->latency_us.push_back((NowNs() - StampOf(m)) / 1000.0);
            s->last = Clock::now().time_since_epoch().count();
            return true;
          },
          [s] { s->ready = true; }, stop.get_token());
      s->ready = true;
      s->done = true;
    });
  }
  for (auto& sub : subs)
    while (!sub.ready) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::atomic<std::uint32_t> next{0};
  std::mutex error_mutex;
  Status error = Status::Ok();
  const auto start = Clock::now();
  std::vector<std::thread> pubs;
  for (std::uint32_t p = 0; p < o.publishers; ++p) {
    pubs.emplace_back([&] {
      auto fail = [&](const Status& s) {
        std::lock_guard lock(error_mutex);
        if (error.ok()) error = s;
        stop.request_stop();
      };
      auto publisher = ControlPublisher::Open(socket, o.broker, stop.get_token());
      if (!publisher.ok()) return fail(publisher.error());
      while (!stop.stop_requested() && next.fetch_add(1) < o.msgs) {
        Status s = (*publisher)->Publish(Stamped(o.topic, o.size));
        if (!s.ok()) fail(s);
      }
    });
  }
  for (auto& t : pubs) t.join();
  const auto published = Clock::now();
  // Subscribers get a while after the last publish; what is missing then is
  // reported, not waited for forever.
  const auto patience = std::chrono::milliseconds(std::max<std::uint32_t>(o.timeout_ms, 5000));
  while (!stop.stop_requested() &&
         std::any_of(subs.begin(), subs.end(), [&](const Sub& s) {
           return !s.done && Clock::now() - std::max(s.Last(), published) < patience;
         }))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop.request_stop();
  for (auto& t : sub_threads) t.join();
  if (signals.ExitCode() != 0) return signals.ExitCode();
  if (!error.ok()) {
    PrintError(error.error().message());
    return kExitFailure;
  }
  const std::uint32_t size = std::max<std::uint32_t>(o.size, 8);
  std::printf("publish: %u messages of %u bytes from %u publisher(s) at %.0f msg/s (%.1f MB/s)\n", o.msgs,
              size, o.publishers, Rate(o.msgs, published - start), Rate(o.msgs, published - start) * size / 1e6);
  int code = 0;
  for (std::size_t i = 0; i < subs.size(); ++i) {
    const Sub& s = subs[i];
    std::printf("subscriber %zu: %zu messages at %.0f msg/s; publish to delivery %s\n", i + 1,
                s.latency_us.size(), Rate(s.latency_us.size(), s.Last() - start),
                Percentiles(s.latency_us).c_str());
    if (s.latency_us.size() < o.msgs) {
      PrintError("subscriber " + std::to_string(i + 1) + " got " + std::to_string(s.latency_us.size()) +
                 " of " + std::to_string(o.msgs) + " messages" +
                 (s.status.ok() || s.status.error().code() == ErrorCode::kCancelled
                      ? ""
                      : ": " + s.status.error().message()));
      code = kExitFailure;
    }
  }
  return code;
}

int Requests(const BenchOptions& o, const std::string& socket, const SignalStop& signals) {
  std::vector<std::vector<double>> per(o.publishers);
  std::atomic<std::uint32_t> next{0}, failures{0};
  std::mutex error_mutex;
  std::string last_error;
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (std::uint32_t c = 0; c < o.publishers; ++c) {
    clients.emplace_back([&, mine = &per[c]] {
      while (next.fetch_add(1) < o.msgs && !signals.token().stop_requested()) {
        const auto t0 = Clock::now();
        auto r = ControlRequest(socket, o.broker, Stamped(o.topic, o.size),
                                std::chrono::milliseconds(o.timeout_ms), 1, signals.token());
        if (r.ok()) {
          mine->push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        } else {
          ++failures;
          std::lock_guard lock(error_mutex);
          last_error = r.error().message();
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const auto took = Clock::now() - start;
  if (signals.ExitCode() != 0) return signals.ExitCode();
  std::vector<double> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  std::printf("request: %zu round trips from %u client(s) at %.0f per second; %s\n", all.size(),
              o.publishers, Rate(all.size(), took), Percentiles(all).c_str());
  if (failures > 0) {
    PrintError(std::to_string(failures.load()) + " of " + std::to_string(o.msgs) +
               " requests failed, e.g.: " + last_error);
    return kExitFailure;
  }
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure publish/subscribe rates and latency, or request round trips, through a running ferry");
  cmd->add_option("topic", o->topic, "Topic to publish (or send requests) to")->required();
  cmd->add_option("--msgs", o->msgs, "Messages (or requests) in all")->check(CLI::Range(1u, 100000000u));
  cmd->add_option("--size", o->size, "Bytes per message (at least 8: the send time)");
  cmd->add_option("--pub", o->publishers, "Publishing threads (request mode: clients)")->check(CLI::Range(1u, 64u));
  cmd->add_option("--sub", o->subscribers, "Subscribers, each counting every message")->check(CLI::Range(0u, 64u));
  cmd->add_flag("--request", o->request, "Time request round trips instead (a responder must answer on topic)");
  cmd->add_option("--timeout", o->timeout_ms, "Milliseconds to wait for each reply (request mode)");
  cmd->add_option("-b,--broker", o->broker, "Configured broker name");
  cmd->add_option("--control", o->control, "Control socket of the running ferry");
  cmd->callback([o, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) return void(exit_code = kExitUsage);
    const SignalStop signals = SignalStop::Watch();
    const std::string socket = o->control.empty() ? DefaultControlSocket() : o->control;
    exit_code = o->request ? Requests(*o, socket, signals) : PubSub(*o, socket, signals);
  });
}

}  // namespace ferry::cli
