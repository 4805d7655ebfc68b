// Reliability proof 10 (docs/RELIABILITY.md), the soak: a `ferry run`
// process serves mixed traffic for a while through its control socket:
// good messages, hostile ones (a trap, an endless loop, an allocation past
// the memory limit, host-side message hoarding, an error) and requests to a
// request-reply service, with two subscribers attached the whole time. Its
// resident memory, open file descriptors and threads are sampled every
// 10 s and must stay flat; every good message must be answered and every
// bad one dead-lettered with its reason.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ferry::testing {

struct SoakSample {
  double seconds = 0;
  double rss_mib = 0;
  int fds = 0;
  int threads = 0;
};

struct SoakRun {
  std::string label;
  // ferry.toml [brokers] body; "default" is the broker the traffic uses.
  std::string brokers_toml = "default = \"mem://\"";
  std::chrono::seconds duration{60};  // FERRY_SOAK_SECONDS overrides
  int rate = 50;                      // messages per second (requests come on top)
};

// Runs the soak, prints the samples, and checks everything with gtest.
void ExpectSoakStaysFlat(const SoakRun& run);

}  // namespace ferry::testing
