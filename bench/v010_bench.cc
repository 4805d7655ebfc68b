// A wasi:messaging@0.1.0 echo (examples/echo_010) with a fresh instance per
// handler call, the default, beside the same component with
// reuse_instances = true, on the embedded broker, in interleaved rounds.
// batch_size stays 1, so every message is one handler call (and, by
// default, one new instance). The native echo is there for scale.
//
//   ferry_v010_bench [--quick] [--rounds N] [--seconds S]
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench_support.h"
#include "echo_paths.h"

using namespace ferry;
using namespace ferry::bench;

int main(int argc, char** argv) {
  const bool quick = HasFlag(argc, argv, "--quick");
  const int rounds = IntFlag(argc, argv, "--rounds", quick ? 3 : 7);
  const double seconds = DoubleFlag(argc, argv, "--seconds", quick ? 0.3 : 1.0);
  (void)SetLogLevel("error");

  NativeEcho native;
  auto fresh = EchoHost::Start("echo010-fresh", "echo_010.wasm", "reuse_instances = false\n");
  auto reuse = EchoHost::Start("echo010-reuse", "echo_010.wasm", "reuse_instances = true\n");
  if (!fresh || !reuse) return 1;

  std::printf("### 0.1.0 component: a fresh instance per call vs reused instances\n\n");
  std::printf("examples/echo_010 on the embedded broker, workers = 1, batch_size = 1. %d interleaved "
              "rounds of about %.1f s per echo; medians.\n\n", rounds, seconds);
  std::printf("| payload | native echo (msg/s) | reuse_instances = true (msg/s) | "
              "fresh instance per call (msg/s) | fresh / reused | range over rounds | target | publisher busy (fresh) |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (std::size_t size : {std::size_t{16}, std::size_t{1024}}) {
    std::vector<Variant> vs = {{"native", &native}, {"reuse", reuse.get()}, {"fresh", fresh.get()}};
    RunRounds(vs, EchoMessage(size), {.warm = quick ? 300u : 1000u, .seconds = seconds, .rounds = rounds});
    const double ratio = RoundRatio(vs[2], vs[1]);
    std::printf("| %s | %.0f | %.0f | %.0f | %.3f | %s | ≥ 0.5: %s | %d%% |\n", size == 16 ? "16 B" : "1 KiB",
                vs[0].rate(), vs[1].rate(), vs[2].rate(), ratio, Range(RoundRatios(vs[2], vs[1]), "%.2f").c_str(),
                Verdict(ratio >= 0.5),
                static_cast<int>(Median(vs[2].busy) * 100 + 0.5));
    std::fflush(stdout);
  }
  std::printf("\n");
  return 0;
}
