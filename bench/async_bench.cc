// The async shape (WASI 0.3) beside the synchronous echo, on the embedded
// broker, 16 B, one instance (workers = 1), in interleaved rounds:
//   1. the echo: C synchronous (echo.wasm), C async (async_echo.wasm) with
//      max_concurrent_per_instance 1 and 16, and the same in Python
//      (echo_py.wasm, async_echo_py.wasm) when they were built;
//   2. the handler that waits on a request before it echoes
//      (async_ask_echo.wasm asks echo.service, which answers after
//      --service-ms, default 1 ms) with max_concurrent_per_instance 1 and 16:
//      the case concurrency per instance is for.
//
//   ferry_async_bench [--quick] [--rounds N] [--seconds S] [--service-ms MS]
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "ferry/host.h"

namespace {

using namespace ferry;
using namespace ferry::bench;
using Clock = std::chrono::steady_clock;

// Answers requests on echo.service after a delay, from a thread of its own
// (the broker's delivery thread only queues them).
class SlowService {
 public:
  SlowService(Host& host, std::chrono::microseconds delay) : host_(host), delay_(delay) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~SlowService() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Take(const Message& request) {
    std::lock_guard lock(mutex_);
    queue_.push_back({Clock::now() + delay_, request.reply_to});
    cv_.notify_all();
  }

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto due = queue_.front().first;
      if (Clock::now() < due) {
        cv_.wait_until(lock, due);
        continue;
      }
      Message reply;
      reply.topic = queue_.front().second;
      reply.data = Bytes::FromString("ok");
      queue_.pop_front();
      lock.unlock();
      (void)host_.Publish("default", reply);
      lock.lock();
    }
  }

  Host& host_;
  std::chrono::microseconds delay_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<Clock::time_point, std::string>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

struct Echo {
  std::string label;
  std::filesystem::path config;
  std::unique_ptr<Host> host;
  std::unique_ptr<SlowService> service;
  std::vector<std::unique_ptr<Listener>> listeners;
  Counter arrived;
  std::vector<double> rates;
};

std::unique_ptr<Echo> Start(const std::string& label, const std::string& file, const std::string& extra,
                            std::chrono::microseconds service_delay) {
  auto e = std::make_unique<Echo>();
  e->label = label;
  e->config = WriteConfig("ferry-async-bench-" + std::to_string(reinterpret_cast<std::uintptr_t>(e.get())),
                          "[[component]]\nname = \"echo\"\npath = \"" FERRY_COMPONENT_DIR "/" + file +
                              "\"\nsubscribe = [\"echo.in\"]\nallow_publish = [\"echo.out\"]\n"
                              "allow_request = [\"echo.service\"]\nworkers = 1\n" + extra);
  auto host = Host::Create({.config_file = e->config});
  if (!host.ok() || !(*host)->Start().ok()) {
    std::fprintf(stderr, "%s: %s did not start\n", label.c_str(), file.c_str());
    return nullptr;
  }
  e->host = std::move(host).value();
  Echo* raw = e.get();
  auto sink = e->host->Listen("default", "echo.out", [raw](const Message&) { raw->arrived.Add(); },
                              ListenMode::kInline);  // counting is quick: no thread of its own
  if (!sink.ok()) return nullptr;
  e->listeners.push_back(std::move(sink).value());
  e->service = std::make_unique<SlowService>(*e->host, service_delay);
  auto svc = e->host->Listen("default", "echo.service", [raw](const Message& m) { raw->service->Take(m); });
  if (!svc.ok()) return nullptr;
  e->listeners.push_back(std::move(svc).value());
  return e;
}

void Rounds(std::vector<Echo*>& echoes, int rounds, double seconds, std::uint64_t warm) {
  const Message m = EchoMessage(16);
  for (Echo* e : echoes) {
    Pump([e](const Message& msg) { return e->host->Publish("default", msg); }, e->arrived, m, warm);
  }
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < echoes.size(); ++i) {
      Echo* e = echoes[(static_cast<std::size_t>(r) + i) % echoes.size()];
      // Sized from the last round's rate (or the warm-up's) to last `seconds`.
      const double last = e->rates.empty() ? 2000.0 : e->rates.back();
      const std::uint64_t count = CountFor(last, seconds, 200, 2'000'000);
      auto res = Pump([e](const Message& msg) { return e->host->Publish("default", msg); }, e->arrived, m, count);
      e->rates.push_back(res.rate);
    }
  }
}

void Table(const char* title, std::vector<Echo*> echoes, const Echo* base) {
  std::printf("### %s\n\n| echo | msg/s | µs per message | range over rounds | / %s |\n|---|---|---|---|---|\n", title,
              base->label.c_str());
  for (Echo* e : echoes) {
    const double rate = Median(e->rates);
    std::printf("| %s | %.0f | %.1f | %s | %.2f |\n", e->label.c_str(), rate, 1e6 / rate, Range(e->rates).c_str(),
                rate / Median(base->rates));
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = HasFlag(argc, argv, "--quick");
  const int rounds = IntFlag(argc, argv, "--rounds", quick ? 3 : 5);
  const double seconds = DoubleFlag(argc, argv, "--seconds", quick ? 0.3 : 1.0);
  const auto service = std::chrono::microseconds(
      static_cast<long>(DoubleFlag(argc, argv, "--service-ms", 1.0) * 1000));
  (void)SetLogLevel("error");

  auto sync = Start("C echo (synchronous shape)", "echo.wasm", "", service);
  auto a1 = Start("C async echo, max_concurrent_per_instance = 1", "async_echo.wasm",
                  "max_concurrent_per_instance = 1\n", service);
  auto a16 = Start("C async echo, max_concurrent_per_instance = 16", "async_echo.wasm",
                   "max_concurrent_per_instance = 16\n", service);
  auto q1 = Start("C async echo asking first, max_concurrent_per_instance = 1", "async_ask_echo.wasm",
                  "max_concurrent_per_instance = 1\n", service);
  auto q16 = Start("C async echo asking first, max_concurrent_per_instance = 16", "async_ask_echo.wasm",
                   "max_concurrent_per_instance = 16\n", service);
  if (!sync || !a1 || !a16 || !q1 || !q16) return 1;
  // The same in Python (componentize-py), when the script guests were built.
  std::vector<std::unique_ptr<Echo>> python;
  const auto built = [](const char* file) {
    return std::filesystem::exists(std::filesystem::path(FERRY_COMPONENT_DIR) / file);
  };
  if (built("echo_py.wasm") && built("async_echo_py.wasm")) {
    python.push_back(Start("Python echo (synchronous shape)", "echo_py.wasm", "", service));
    python.push_back(Start("Python async echo, max_concurrent_per_instance = 1", "async_echo_py.wasm",
                           "max_concurrent_per_instance = 1\n", service));
    python.push_back(Start("Python async echo, max_concurrent_per_instance = 16", "async_echo_py.wasm",
                           "max_concurrent_per_instance = 16\n", service));
    for (const auto& e : python)
      if (!e) return 1;
  }

  std::printf("%d interleaved rounds of about %.1f s each, 16 B, one instance (workers = 1); msg/s is the "
              "median over rounds.\n\n", rounds, seconds);
  std::vector<Echo*> echoes = {sync.get(), a1.get(), a16.get()};
  for (const auto& e : python) echoes.push_back(e.get());
  Rounds(echoes, rounds, seconds, quick ? 500 : 2000);
  Table("Echo: synchronous and async shapes", echoes, sync.get());
  std::vector<Echo*> asking = {q1.get(), q16.get()};
  Rounds(asking, rounds, seconds, quick ? 50 : 200);
  char title[160];
  std::snprintf(title, sizeof title, "The handler waits on a request (echo.service answers after %.1f ms)",
                static_cast<double>(service.count()) / 1000.0);
  Table(title, asking, q1.get());
  std::vector<Echo*> all = {sync.get(), a1.get(), a16.get(), q1.get(), q16.get()};
  for (const auto& e : python) all.push_back(e.get());
  for (Echo* e : all) {
    e->listeners.clear();
    e->host->Stop(std::chrono::seconds(5));
    e->service.reset();
    std::filesystem::remove(e->config);
  }
  return 0;
}
