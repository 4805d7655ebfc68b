// Resident memory of a process hosting the copy echo (bench/guests: every
// payload goes into guest memory and out again) on the embedded broker (the
// driver in the same process holds one payload):
//   1. idle: started, 100 small messages echoed, then quiet;
//   2. VmRSS after every 20,000 of 100,000 echoed 16-byte messages (should
//      stay flat: nothing kept per message);
//   3. peak while echoing 1 MiB messages: VmHWM after resetting it
//      (/proc/self/clear_refs), and the highest VmRSS sampled every 5 ms.
// A process of its own, so no other benchmark's memory counts.
//
//   ferry_memory_bench [--quick]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench_support.h"
#include "echo_paths.h"

using namespace ferry;
using namespace ferry::bench;

namespace {

double MiB(long kib) { return static_cast<double>(kib) / 1024.0; }

}  // namespace

int main(int argc, char** argv) {
  const bool quick = HasFlag(argc, argv, "--quick");
  (void)SetLogLevel("error");
  auto echo = EchoHost::Start("memory", "copy_echo.wasm", "workers = 1\n");
  if (!echo) return 1;

  echo->Run(EchoMessage(16), 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long idle = ProcStatusKiB("VmRSS");

  std::printf("### Host memory (VmRSS, copy echo, workers = 1, embedded broker)\n\n");
  std::printf("Idle (started, 100 messages echoed): %.1f MiB.\n\n", MiB(idle));
  std::printf("| 16 B messages echoed | VmRSS (MiB) | over idle (MiB) |\n|---|---|---|\n");
  const std::uint64_t chunk = quick ? 2000 : 20000;
  long first = 0, last = 0;
  for (int i = 1; i <= 5; ++i) {
    echo->Run(EchoMessage(16), chunk);
    last = ProcStatusKiB("VmRSS");
    if (i == 1) first = last;
    std::printf("| %llu | %.1f | %+.1f |\n", static_cast<unsigned long long>(chunk * i), MiB(last),
                MiB(last - idle));
    std::fflush(stdout);
  }
  const double growth = MiB(last - first);
  std::printf("\nGrowth from %llu to %llu messages: %+.2f MiB (flat means ≤ 1 MiB: %s).\n\n",
              static_cast<unsigned long long>(chunk), static_cast<unsigned long long>(5 * chunk), growth,
              Verdict(growth <= 1.0));

  // 1 MiB messages: a short warm-up sizes a run of a few seconds. The peak
  // is reset before the warm-up, which grows the guest's memory too.
  const bool reset = ResetPeakRss();
  std::atomic<bool> stop{false};
  std::atomic<long> sampled{0};
  std::thread sampler([&] {
    while (!stop.load()) {
      const long rss = ProcStatusKiB("VmRSS");
      if (rss > sampled.load()) sampled.store(rss);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const Message big = EchoMessage(1 << 20);
  const PumpResult warm = echo->Run(big, 20);
  const std::uint64_t count = CountFor(warm.rate, quick ? 1.0 : 5.0, 50, 5000);
  const PumpResult timed = echo->Run(big, count);
  stop.store(true);
  sampler.join();
  const long hwm = ProcStatusKiB("VmHWM");
  const long peak = reset ? std::max(hwm, sampled.load()) : sampled.load();
  const long after = ProcStatusKiB("VmRSS");

  std::printf("| echoing 1 MiB messages | MiB |\n|---|---|\n");
  std::printf("| idle VmRSS | %.1f |\n", MiB(idle));
  std::printf("| peak VmHWM since reset%s | %.1f |\n", reset ? "" : " (reset failed: whole life)", MiB(hwm));
  std::printf("| highest VmRSS sampled every 5 ms | %.1f |\n", MiB(sampled.load()));
  std::printf("| VmRSS after | %.1f |\n", MiB(after));
  std::printf("| peak over idle | %+.1f |\n\n", MiB(peak - idle));
  std::printf("%llu + 20 messages of 1 MiB at %.0f msg/s. Peak ≤ idle + 64 MiB: %s.\n\n",
              static_cast<unsigned long long>(count), timed.rate, Verdict(peak - idle <= 64 * 1024));
  return 0;
}
