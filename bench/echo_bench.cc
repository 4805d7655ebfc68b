// Echo through components on the embedded broker (mem://), beside the same
// two hops done by a native C++ subscriber (the floor), all in one run and
// in interleaved rounds; medians are printed.
//   1. 16 B and 1 KiB: the C echo example (it forwards the message it got)
//      with workers = 1 and 2, the copy echo (bench/guests/copy_echo.c: the
//      payload into guest memory and out again) with workers = 1, and, at
//      16 B, the Python and JavaScript echoes (echo_py.wasm, echo_js.wasm)
//      when they were built.
//   2. 64 KiB and 1 MiB: time per message through the copy echo beside the
//      time of two memcpy's of the payload into warm buffers, measured in
//      the same rounds; the forwarding echo beside them.
//
//   ferry_echo_bench [--quick] [--rounds N] [--seconds S]
//   ferry_echo_bench --profile native|w1|w2|copy|async1|async16 [--seconds S]
//
// --profile runs one echo at 16 B for S seconds (default 10) and prints its
// rate: a steady load for a profiler, with no other echo's threads beside it.
// async1 and async16 are the async-shape echo (examples/async_echo) with
// max_concurrent_per_instance 1 and 16.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "echo_paths.h"
#include "ferry/host.h"

namespace {

using namespace ferry;
using namespace ferry::bench;

struct Options {
  int rounds = 5;
  double seconds = 1.0;
  bool quick = false;
};

std::string Pct(double fraction) { return std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "%"; }

// Median time of copying `size` bytes twice (src → a → b, as a payload goes
// into a guest and out again) into buffers already touched.
double TwoMemcpyMicros(std::size_t size, int reps) {
  static std::vector<std::uint8_t> src, a, b;
  if (src.size() != size) {
    src.assign(size, 'x');
    a.assign(size, 0);
    b.assign(size, 0);
  }
  std::vector<double> t;
  for (int i = 0; i < reps + 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(a.data(), src.data(), size);
    std::memcpy(b.data(), a.data(), size);
    asm volatile("" : : "r"(a.data()), "r"(b.data()) : "memory");
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (i >= 3) t.push_back(us);  // the first ones warm caches and TLB
  }
  return Median(t);
}

struct Lang {
  const char* label;
  const char* file;
  std::unique_ptr<EchoHost> host;
};

void SmallPayloads(const Options& o) {
  NativeEcho native;
  auto c1 = EchoHost::Start("echo-w1", "echo.wasm", "workers = 1\n");
  auto c2 = EchoHost::Start("echo-w2", "echo.wasm", "workers = 2\n");
  auto copy = EchoHost::Start("copy-echo-w1", "copy_echo.wasm", "workers = 1\n");
  if (!c1 || !c2 || !copy) std::exit(1);
  Lang langs[] = {{"Python", "echo_py.wasm", nullptr}, {"JavaScript", "echo_js.wasm", nullptr}};
  std::vector<std::string> notes;
  for (Lang& l : langs) {
    const auto path = std::filesystem::path(FERRY_COMPONENT_DIR) / l.file;
    if (!std::filesystem::exists(path)) {
      notes.push_back(std::string(l.label) + ": " + path.string() + " is absent, column skipped");
      continue;
    }
    l.host = EchoHost::Start(std::string("echo-") + l.file, l.file, "workers = 1\n");
    if (!l.host) notes.push_back(std::string(l.label) + ": " + l.file + " did not start (above), column skipped");
  }

  std::printf("### Echo on the embedded broker, small payloads\n\n");
  std::printf("%d interleaved rounds of about %.1f s per echo; msg/s is the median over rounds, "
              "ratios the median of the per-round ratios. \"publisher busy\" is the publishing "
              "thread's CPU time over the run's wall time (100%%: the driver is the limit).\n\n",
              o.rounds, o.seconds);
  std::printf("| payload | echo | messages per round | msg/s | range over rounds | / native | target | publisher busy |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  std::vector<std::string> lang_rows;
  for (std::size_t size : {std::size_t{16}, std::size_t{1024}}) {
    std::vector<Variant> vs = {{"native C++ subscriber, bare embedded broker", &native},
                               {"C echo component, workers = 1", c1.get()},
                               {"C echo component, workers = 2", c2.get()},
                               {"C copy echo component, workers = 1", copy.get()}};
    if (size == 16)
      for (Lang& l : langs)
        if (l.host) vs.push_back({std::string(l.label) + " echo component, workers = 1", l.host.get()});
    RunRounds(vs, EchoMessage(size),
              {.warm = o.quick ? 500u : 2000u, .seconds = o.seconds, .rounds = o.rounds});
    const char* label = size == 16 ? "16 B" : "1 KiB";
    for (std::size_t i = 0; i < 4; ++i) {
      const Variant& v = vs[i];
      const double ratio = RoundRatio(v, vs[0]);
      const std::string target = i == 0 || i == 3 ? "" : std::string("≥ 0.5: ") + Verdict(ratio >= 0.5);
      std::printf("| %s | %s | %llu | %.0f | %s | %.3f | %s | %s |\n", label, v.label.c_str(),
                  static_cast<unsigned long long>(v.count), v.rate(), Range(v.rates).c_str(), ratio, target.c_str(),
                  Pct(Median(v.busy)).c_str());
    }
    // The languages table: the C echo (workers = 1), then each other language.
    std::vector<std::size_t> rows;
    if (size == 16) rows.push_back(1);
    for (std::size_t i = 4; i < vs.size(); ++i) rows.push_back(i);
    for (std::size_t i : rows) {
      char row[512];
      std::snprintf(row, sizeof row, "| %s | %llu | %.0f | %.3f | %.3f | %s |\n", vs[i].label.c_str(),
                    static_cast<unsigned long long>(vs[i].count), vs[i].rate(), RoundRatio(vs[i], vs[1]),
                    RoundRatio(vs[i], vs[0]), Pct(Median(vs[i].busy)).c_str());
      lang_rows.push_back(row);
    }
    std::fflush(stdout);
  }
  std::printf("\n### The same echo in other languages, 16 B, same rounds as above\n\n");
  std::printf("| echo | messages per round | msg/s | / C echo (workers = 1) | / native | publisher busy |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const auto& row : lang_rows) std::printf("%s", row.c_str());
  for (const auto& note : notes) std::printf("\n- %s", note.c_str());
  std::printf("\n\n");
}

void LargePayloads(const Options& o) {
  NativeEcho native;
  auto copy = EchoHost::Start("copy-echo-large", "copy_echo.wasm", "workers = 1\n");
  auto forward = EchoHost::Start("echo-large", "echo.wasm", "workers = 1\n");
  if (!copy || !forward) std::exit(1);
  std::printf("### Large payloads: time per echoed message beside two memcpy's\n\n");
  std::printf("Time per message is 1 / (median msg/s) with the publisher keeping the echo busy; "
              "\"two memcpy's\" is the median time of copying the payload twice into warm "
              "buffers, measured at the start of every round. The copy echo moves the payload "
              "into guest memory and out again; the echo example forwards the message and "
              "copies nothing.\n\n");
  std::printf("| payload | C copy echo (µs/msg) | range over rounds | C echo, forwarding (µs/msg) "
              "| native echo (µs/msg) | two memcpy's (µs) | copy echo / two memcpy's | target "
              "| messages per round |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  struct Case { std::size_t size; const char* label; double target; };
  for (const Case& c : {Case{65536, "64 KiB", 4.0}, Case{1 << 20, "1 MiB", 2.0}}) {
    std::vector<double> copies;
    std::vector<Variant> vs = {{"native", &native}, {"C copy echo", copy.get()}, {"C echo", forward.get()}};
    RunRounds(vs, EchoMessage(c.size),
              {.warm = c.size > 65536 ? 50u : 300u, .seconds = o.seconds, .min_count = 20,
               .rounds = o.rounds,
               .each_round = [&](int) { copies.push_back(TwoMemcpyMicros(c.size, 200)); }});
    const double comp_us = 1e6 / vs[1].rate();
    const double native_us = 1e6 / vs[0].rate();
    const double forward_us = 1e6 / vs[2].rate();
    const double copy_us = Median(copies);
    const double ratio = comp_us / copy_us;
    std::vector<double> us;
    for (double rate : vs[1].rates) us.push_back(1e6 / rate);
    std::printf("| %s | %.1f | %s | %.1f | %.1f | %.1f | %.2f | ≤ %.0f: %s | %llu |\n", c.label, comp_us,
                Range(us, "%.1f").c_str(), forward_us, native_us, copy_us, ratio, c.target,
                Verdict(ratio <= c.target),
                static_cast<unsigned long long>(vs[1].count));
    std::fflush(stdout);
  }
  std::printf("\n");
}

}  // namespace

// One echo at 16 B for `seconds`, for a profiler.
int Profile(const std::string& which, double seconds) {
  std::unique_ptr<EchoPath> path;
  if (which == "native") path = std::make_unique<NativeEcho>();
  else if (which == "w1") path = EchoHost::Start("profile-w1", "echo.wasm", "workers = 1\n");
  else if (which == "w2") path = EchoHost::Start("profile-w2", "echo.wasm", "workers = 2\n");
  else if (which == "copy") path = EchoHost::Start("profile-copy", "copy_echo.wasm", "workers = 1\n");
  else if (which == "async1" || which == "async16")
    path = EchoHost::Start("profile-" + which, "async_echo.wasm",
                           "workers = 1\nmax_concurrent_per_instance = " + which.substr(5) + "\n");
  else {
    std::fprintf(stderr, "--profile takes native, w1, w2, copy, async1 or async16, not %s\n", which.c_str());
    return 2;
  }
  if (!path) return 1;
  const Message m = EchoMessage(16);
  const PumpResult warm = path->Run(m, 2000);
  const PumpResult r = path->Run(m, CountFor(warm.rate, seconds, 100, 1u << 30));
  std::printf("%s: %.0f msg/s, publisher busy %.0f%%\n", which.c_str(), r.rate, r.publisher * 100);
  return 0;
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--profile") == 0) {
      (void)SetLogLevel("error");
      return Profile(argv[i + 1], DoubleFlag(argc, argv, "--seconds", 10.0));
    }
  Options o;
  o.quick = HasFlag(argc, argv, "--quick");
  o.rounds = IntFlag(argc, argv, "--rounds", o.quick ? 3 : 7);
  o.seconds = DoubleFlag(argc, argv, "--seconds", o.quick ? 0.3 : 1.0);
  (void)SetLogLevel("error");
  SmallPayloads(o);
  LargePayloads(o);
  return 0;
}
