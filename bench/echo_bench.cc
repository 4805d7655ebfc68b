// Messages per second through the echo example on the embedded broker, next
// to the same two hops done by a native C++ subscriber (the floor), and the
// round-trip time of request-reply through the greeter example.
//
//   ferry_echo_bench [--quick]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "brokers/broker.h"
#include "brokers/registry.h"
#include "bench_support.h"
#include "ferry/host.h"

namespace {

using namespace ferry;
using bench::Counter;
using Ms = std::chrono::duration<double, std::milli>;

// Publishes `count` messages of `size` bytes to echo.in and times until all
// arrived on echo.out. Returns messages per second.
double Pump(const std::function<Status(const Message&)>& publish, Counter& arrived,
            std::size_t size, std::uint64_t count) {
  Message m;
  m.topic = "echo.in";
  m.data = Bytes(std::vector<std::uint8_t>(size, 'x'));
  m.content_type = "application/octet-stream";
  m.metadata.Set("bench", "1");
  const std::uint64_t start_count = arrived.Get();
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    Status s = publish(m);
    if (!s.ok()) {
      std::fprintf(stderr, "publish failed: %s\n", s.error().ToString().c_str());
      std::exit(1);
    }
  }
  if (!arrived.WaitFor(start_count + count, std::chrono::seconds(300))) {
    std::fprintf(stderr, "timed out waiting for echoes\n");
    std::exit(1);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(count) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  (void)SetLogLevel("error");
  const std::string dir = FERRY_COMPONENT_DIR;
  auto config = bench::WriteConfig("ferry-bench",
      "[brokers]\ndefault = \"mem://\"\n"
      "[[component]]\nname = \"echo\"\npath = \"" + dir + "/echo.wasm\"\nsubscribe = [\"echo.in\"]\nallow_publish = [\"echo.out\"]\n"
      "[[component]]\nname = \"greeter\"\npath = \"" + dir + "/greeter.wasm\"\nsubscribe = [\"greet\"]\n");
  auto host = Host::Create({.config_file = config});
  if (!host.ok() || !(*host)->Start().ok()) {
    std::fprintf(stderr, "cannot start the host\n");
    return 1;
  }
  Counter echoed;
  auto listener = (*host)->Listen("default", "echo.out", [&](const Message&) { echoed.Add(); });

  // The floor: the same publish → subscriber → publish → subscriber path on
  // a bare embedded broker, with a native C++ echo instead of a component.
  auto bare = MakeBroker("mem://", {});
  (void)(*bare)->Connect();
  Counter bare_echoed;
  Broker* bare_broker = bare->get();
  auto bare_echo = (*bare)->Subscribe({.pattern = "echo.in", .manual_ack = false}, [&](Delivery d) {
    Message out = d.message;
    out.topic = "echo.out";
    (void)bare_broker->Publish(out, Clock::now() + std::chrono::seconds(30));
  });
  auto bare_sink = (*bare)->Subscribe({.pattern = "echo.out", .manual_ack = false},
                                      [&](Delivery) { bare_echoed.Add(); });

  struct Case { std::size_t size; std::uint64_t count; const char* label; };
  const std::uint64_t scale = quick ? 10 : 1;
  const Case cases[] = {{16, 50000 / scale, "16 B"}, {1024, 50000 / scale, "1 KiB"},
                        {65536, 5000 / scale, "64 KiB"}, {1 << 20, 300 / scale, "1 MiB"}};
  std::printf("| payload | messages | Ferry echo (msg/s) | native echo on the same broker (msg/s) | Ferry / native |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const Case& c : cases) {
    // Warm up both paths (instances, caches) before timing.
    Pump([&](const Message& m) { return (*host)->Publish("default", m); }, echoed, c.size, c.count / 10 + 1);
    Pump([&](const Message& m) { return bare_broker->Publish(m, Clock::now() + std::chrono::seconds(30)); },
         bare_echoed, c.size, c.count / 10 + 1);
    const double ferry_rate =
        Pump([&](const Message& m) { return (*host)->Publish("default", m); }, echoed, c.size, c.count);
    const double native_rate = Pump(
        [&](const Message& m) { return bare_broker->Publish(m, Clock::now() + std::chrono::seconds(30)); },
        bare_echoed, c.size, c.count);
    std::printf("| %s | %llu | %.0f | %.0f | %.3f |\n", c.label,
                static_cast<unsigned long long>(c.count), ferry_rate, native_rate, ferry_rate / native_rate);
    std::fflush(stdout);
  }

  // Request-reply round trips through the greeter component.
  const int requests = quick ? 200 : 2000;
  std::vector<double> rtt;
  Message req;
  req.topic = "greet";
  req.data = Bytes::FromString("bench");
  for (int i = 0; i < requests + 50; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto replies = (*host)->Request("default", req, std::chrono::milliseconds(5000), 1);
    const double ms = Ms(std::chrono::steady_clock::now() - start).count();
    if (!replies.ok() || replies->size() != 1) {
      std::fprintf(stderr, "request failed\n");
      return 1;
    }
    if (i >= 50) rtt.push_back(ms);  // the first ones warm up
  }
  std::sort(rtt.begin(), rtt.end());
  auto pct = [&](double p) { return rtt[static_cast<std::size_t>(p * (rtt.size() - 1))]; };
  std::printf("\n| request-reply through greeter | requests | p50 (ms) | p90 (ms) | p99 (ms) |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf("| 5-byte request, 1 reply | %d | %.3f | %.3f | %.3f |\n", requests, pct(0.5), pct(0.9), pct(0.99));
  listener->reset();
  (*host)->Stop(std::chrono::milliseconds(1000));
  std::filesystem::remove(config);
  return 0;
}
