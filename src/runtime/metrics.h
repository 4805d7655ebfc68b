// What a running host reports about itself: a snapshot of every
// component's and broker's figures and the process's, rendered as the
// Prometheus text exposition format (/metrics) or JSON (`ferry status`).
// The live figures are atomics and small bounded maps updated by the
// workers; a snapshot reads them from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/delivery_policy.h"

namespace ferry {

// Handler call durations in fixed buckets (upper bounds in seconds, and
// +Inf). Observe is lock-free.
class DurationHistogram {
 public:
  static constexpr std::array<double, 16> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                     0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                     0.5,     1,      2.5,     10};
  struct Snapshot {
    std::array<std::uint64_t, kBounds.size() + 1> cumulative{};  // last: +Inf
    double sum_seconds = 0;
    std::uint64_t count = 0;
  };

  void Observe(std::chrono::nanoseconds duration);
  Snapshot Read() const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // not cumulative
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Deliveries per topic, for at most `max_topics` distinct topics; the
// rest are counted under "other", so a flood of topics cannot grow the
// map or the metrics page without bound.
class TopicCounters {
 public:
  enum Event { kReceived, kHandled, kFailed };
  struct Counts {
    std::uint64_t received = 0, handled = 0, failed = 0;
  };
  static constexpr char kOther[] = "other";

  explicit TopicCounters(std::size_t max_topics) : max_topics_(max_topics) {}
  void Count(const std::string& topic, Event event);
  std::map<std::string, Counts> Read() const;

 private:
  const std::size_t max_topics_;
  mutable std::mutex mutex_;
  std::map<std::string, Counts, std::less<>> counts_;
};

struct ComponentSnapshot {
  std::string name;
  std::string broker;
  std::uint64_t received = 0, handled = 0, failed = 0, abandoned = 0, retried = 0, given_up = 0,
                dead_lettered = 0, released = 0, settle_failed = 0;
  std::array<std::uint64_t, kFailureKinds> failed_by{};
  std::uint64_t in_flight = 0;    // accepted, not settled yet
  std::uint64_t queue_depth = 0;  // waiting for a worker
  std::uint64_t instances_created = 0;
  DurationHistogram::Snapshot durations;
  std::map<std::string, TopicCounters::Counts> topics;
};

struct BrokerSnapshot {
  std::string name;
  std::string url;  // as shown to users (no credentials)
  std::string state;  // ConnectionStateName: disconnected, connecting, connected, reconnecting, closed
  std::uint64_t reconnects = 0;
  std::uint64_t unconfirmed = 0;  // publishes waiting for the broker's confirmation
};

struct ProcessSnapshot {
  std::uint64_t resident_bytes = 0;
  std::uint64_t threads = 0;
  std::uint64_t open_files = 0;
  double uptime_seconds = 0;
};

struct SpanExportSnapshot {
  bool on = false;  // [host].otlp_endpoint is set
  std::uint64_t exported = 0, dropped = 0;
};

struct HostSnapshot {
  std::vector<ComponentSnapshot> components;
  SpanExportSnapshot spans;
  std::vector<BrokerSnapshot> brokers;
  ProcessSnapshot process;
  bool ready = false;
  std::string not_ready_because;  // empty when ready
};

// Sets `ready` and `not_ready_because`: not while the host is draining, nor
// before `expected` components run, nor while a broker is not connected.
void DecideReadiness(HostSnapshot& snapshot, bool draining, std::size_t running, std::size_t expected);

// This process's figures from /proc/self (zeros where it is not there).
ProcessSnapshot ReadProcess(std::chrono::steady_clock::time_point started);

// Prometheus text format 0.0.4.
std::string RenderPrometheus(const HostSnapshot& snapshot);
// One JSON object (what `ferry status --json` prints).
std::string RenderJson(const HostSnapshot& snapshot);

}  // namespace ferry
