// What the benchmarks share: an arrival counter with waiting, a config file
// in the temporary folder, a timed publish loop that also reports how busy
// the publishing thread was, medians and percentiles, and the process's
// resident memory from /proc/self/status.
#pragma once

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::bench {

// Counts arrivals. Add is cheap (an atomic increment); it takes the lock and
// wakes the waiter only once the awaited count is reached, so counting does
// not slow the fast paths it measures.
class Counter {
 public:
  void Add() {
    const std::uint64_t n = n_.fetch_add(1) + 1;
    if (n >= target_.load()) {
      std::lock_guard lock(m_);
      cv_.notify_all();
    }
  }
  std::uint64_t Get() const { return n_.load(); }
  bool WaitFor(std::uint64_t target, std::chrono::seconds limit) {
    target_.store(target);
    std::unique_lock lock(m_);
    const bool ok = cv_.wait_for(lock, limit, [&] { return n_.load() >= target; });
    target_.store(kNever);
    return ok;
  }

 private:
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<std::uint64_t> n_{0};
  std::atomic<std::uint64_t> target_{kNever};
};

// Writes `text` to <tmp>/<stem>-<pid>.toml and returns the path.
inline std::filesystem::path WriteConfig(const std::string& stem, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}

// The message every echo benchmark sends: `size` bytes to echo.in, with a
// content type and one metadata entry, so the echo copies all three.
inline Message EchoMessage(std::size_t size) {
  Message m;
  m.topic = "echo.in";
  m.data = Bytes(std::vector<std::uint8_t>(size, 'x'));
  m.content_type = "application/octet-stream";
  m.metadata.Set("bench", "1");
  return m;
}

// CPU time the calling thread has used.
inline double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct PumpResult {
  double rate = 0;       // echoes per second, first publish to last arrival
  double publisher = 0;  // CPU time of the publishing thread / wall time (1.0: saturated)
};

// Publishes `count` copies of `m` from this thread and times until `count`
// more arrivals were counted. Exits the process on a failed publish or after
// `limit` without all echoes. `window` > 0 keeps at most that many messages
// unechoed: brokers that deliver at most once (NATS core, Redis pub/sub)
// drop what a slow consumer lets pile up, where the embedded broker makes
// the publisher wait instead.
inline PumpResult Pump(const std::function<Status(const Message&)>& publish, Counter& arrived,
                       const Message& m, std::uint64_t count,
                       std::chrono::seconds limit = std::chrono::seconds(600), std::uint64_t window = 0) {
  const std::uint64_t before = arrived.Get();
  const double cpu0 = ThreadCpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    if (window > 0 && i >= window && arrived.Get() < before + i - window + 1 &&
        !arrived.WaitFor(before + i - window + 1, limit)) {
      std::fprintf(stderr, "timed out: %llu of %llu echoes (window %llu)\n",
                   static_cast<unsigned long long>(arrived.Get() - before),
                   static_cast<unsigned long long>(i), static_cast<unsigned long long>(window));
      std::exit(1);
    }
    Status s = publish(m);
    if (!s.ok()) {
      std::fprintf(stderr, "publish failed: %s\n", s.error().ToString().c_str());
      std::exit(1);
    }
  }
  const double cpu = ThreadCpuSeconds() - cpu0;
  if (!arrived.WaitFor(before + count, limit)) {
    std::fprintf(stderr, "timed out: %llu of %llu echoes\n",
                 static_cast<unsigned long long>(arrived.Get() - before),
                 static_cast<unsigned long long>(count));
    std::exit(1);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {static_cast<double>(count) / secs, cpu / secs};
}

// A message count that makes a timed run last about `seconds` at `rate`.
inline std::uint64_t CountFor(double rate, double seconds, std::uint64_t lo, std::uint64_t hi) {
  const auto n = static_cast<std::uint64_t>(rate * seconds);
  return std::clamp<std::uint64_t>(n, lo, hi);
}

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "min – max" of `v`, printed with `format` (e.g. "%.0f").
inline std::string Range(const std::vector<double>& v, const char* format = "%.0f") {
  if (v.empty()) return "";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  char a[64], b[64];
  std::snprintf(a, sizeof a, format, *lo);
  std::snprintf(b, sizeof b, format, *hi);
  return std::string(a) + " – " + b;
}

// Nearest-rank percentile, p in [0, 1].
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1.
inline long ProcStatusKiB(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
      return std::strtol(line.c_str() + len + 1, nullptr, 10);
  }
  return -1;
}

// Resets VmHWM to the current VmRSS (Linux: "5" in /proc/self/clear_refs).
inline bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// How a target reads in the printed tables.
inline const char* Verdict(bool met) { return met ? "met" : "**not met**"; }

inline bool HasFlag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0) return true;
  return false;
}

// The value after `flag` (e.g. --rounds 5), or `fallback`.
inline int IntFlag(int argc, char** argv, const char* flag, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0) return std::atoi(argv[i + 1]);
  return fallback;
}

inline double DoubleFlag(int argc, char** argv, const char* flag, double fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0) return std::atof(argv[i + 1]);
  return fallback;
}

}  // namespace ferry::bench
