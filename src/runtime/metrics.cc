#include "runtime/metrics.h"

#include <dirent.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ferry {

void DurationHistogram::Observe(std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, duration.count())),
                    std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

DurationHistogram::Snapshot DurationHistogram::Read() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  // Observations racing with this read may be in a bucket but not yet in
  // the count (or the other way round): the count is the +Inf bucket, so
  // the page a scraper sees is always consistent.
  s.count = running;
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

void TopicCounters::Count(const std::string& topic, Event event) {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(topic);
  if (it == counts_.end()) {
    // Once the named topics are used up, every new one counts as "other".
    const std::size_t named = counts_.size() - counts_.count(kOther);
    it = counts_.try_emplace(named < max_topics_ ? topic : std::string(kOther)).first;
  }
  Counts& c = it->second;
  switch (event) {
    case kReceived: ++c.received; break;
    case kHandled: ++c.handled; break;
    case kFailed: ++c.failed; break;
  }
}

std::map<std::string, TopicCounters::Counts> TopicCounters::Read() const {
  std::lock_guard lock(mutex_);
  return {counts_.begin(), counts_.end()};
}

namespace {

std::uint64_t StatusField(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return 0;
}

std::uint64_t CountOpenFiles() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  std::uint64_t n = 0;
  while (const dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // not the descriptor reading the folder
}

// A label value in the exposition format: backslash, quote and line feed
// escaped.
std::string Escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Page {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void Sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  void Plain(std::string_view name, std::uint64_t value) { out_ += fmt::format("{} {}\n", name, value); }
  void Plain(std::string_view name, double value) { out_ += fmt::format("{} {}\n", name, value); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string ComponentLabel(const ComponentSnapshot& c) {
  return fmt::format("component=\"{}\"", Escape(c.name));
}

constexpr Failure kAllFailures[] = {Failure::kError,     Failure::kTrap,        Failure::kTimeout,
                                    Failure::kFuel,      Failure::kMemory,      Failure::kAbandoned,
                                    Failure::kUnavailable, Failure::kShutdown};

}  // namespace

void DecideReadiness(HostSnapshot& s, bool draining, std::size_t running, std::size_t expected) {
  s.not_ready_because.clear();
  if (draining) {
    s.not_ready_because = "stopping or reloading";
  } else if (running < expected) {
    s.not_ready_because = "components are starting";
  } else {
    for (const auto& b : s.brokers)
      if (b.state != "connected") {
        s.not_ready_because = "broker '" + b.name + "' is " + b.state;
        break;
      }
  }
  s.ready = s.not_ready_because.empty();
}

ProcessSnapshot ReadProcess(std::chrono::steady_clock::time_point started) {
  ProcessSnapshot p;
  std::ifstream in("/proc/self/status");
  const std::string status((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  p.resident_bytes = StatusField(status, "VmRSS") * 1024;
  p.threads = StatusField(status, "Threads");
  p.open_files = CountOpenFiles();
  p.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return p;
}

std::string RenderPrometheus(const HostSnapshot& s) {
  Page page;
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t ComponentSnapshot::*field;
    const char* type = "counter";
  };
  const Counter counters[] = {
      {"ferry_deliveries_received_total", "Deliveries a component accepted from its broker.",
       &ComponentSnapshot::received},
      {"ferry_deliveries_handled_total", "Deliveries whose handler call succeeded.", &ComponentSnapshot::handled},
      {"ferry_deliveries_retried_total", "Failed attempts scheduled to run again.", &ComponentSnapshot::retried},
      {"ferry_deliveries_given_up_total", "Deliveries whose attempts ran out.", &ComponentSnapshot::given_up},
      {"ferry_deliveries_dead_lettered_total", "Given-up deliveries sent to the dead-letter topic.",
       &ComponentSnapshot::dead_lettered},
      {"ferry_deliveries_released_total", "Deliveries given back to the broker unhandled at shutdown.",
       &ComponentSnapshot::released},
      {"ferry_settle_failures_total", "Acks, nacks and terms the broker refused.",
       &ComponentSnapshot::settle_failed},
      {"ferry_instances_created_total", "Guest instances created.", &ComponentSnapshot::instances_created},
      {"ferry_deliveries_in_flight", "Deliveries accepted and not settled yet.", &ComponentSnapshot::in_flight,
       "gauge"},
      {"ferry_queue_depth", "Deliveries waiting for a worker.", &ComponentSnapshot::queue_depth, "gauge"},
  };
  for (const Counter& counter : counters) {
    page.Family(counter.name, counter.type, counter.help);
    for (const auto& c : s.components) page.Sample(counter.name, ComponentLabel(c), c.*counter.field);
  }

  page.Family("ferry_deliveries_failed_total", "counter", "Failed attempts, by reason.");
  for (const auto& c : s.components)
    for (Failure f : kAllFailures)
      page.Sample("ferry_deliveries_failed_total",
                  fmt::format("{},reason=\"{}\"", ComponentLabel(c), FailureName(f)),
                  c.failed_by[static_cast<std::size_t>(f)]);

  page.Family("ferry_handler_duration_seconds", "histogram", "Duration of handler calls.");
  for (const auto& c : s.components) {
    const auto& h = c.durations;
    for (std::size_t i = 0; i < DurationHistogram::kBounds.size(); ++i)
      page.Sample("ferry_handler_duration_seconds_bucket",
                  fmt::format("{},le=\"{}\"", ComponentLabel(c), DurationHistogram::kBounds[i]), h.cumulative[i]);
    page.Sample("ferry_handler_duration_seconds_bucket", fmt::format("{},le=\"+Inf\"", ComponentLabel(c)),
                h.cumulative.back());
    page.Sample("ferry_handler_duration_seconds_sum", ComponentLabel(c), h.sum_seconds);
    page.Sample("ferry_handler_duration_seconds_count", ComponentLabel(c), h.count);
  }

  struct TopicFamily {
    const char* name;
    const char* help;
    std::uint64_t TopicCounters::Counts::*field;
  };
  const TopicFamily topic_families[] = {
      {"ferry_topic_deliveries_received_total", "Deliveries received, by topic (topics past the limit: other).",
       &TopicCounters::Counts::received},
      {"ferry_topic_deliveries_handled_total", "Deliveries handled, by topic.", &TopicCounters::Counts::handled},
      {"ferry_topic_deliveries_failed_total", "Failed attempts, by topic.", &TopicCounters::Counts::failed},
  };
  for (const TopicFamily& family : topic_families) {
    page.Family(family.name, "counter", family.help);
    for (const auto& c : s.components)
      for (const auto& [topic, counts] : c.topics)
        page.Sample(family.name, fmt::format("{},topic=\"{}\"", ComponentLabel(c), Escape(topic)),
                    counts.*family.field);
  }

  page.Family("ferry_broker_state", "gauge", "1 for the state each broker connection is in.");
  for (const auto& b : s.brokers)
    for (const char* state : {"disconnected", "connecting", "connected", "reconnecting", "closed"})
      page.Sample("ferry_broker_state",
                  fmt::format("broker=\"{}\",url=\"{}\",state=\"{}\"", Escape(b.name), Escape(b.url), state),
                  std::uint64_t{b.state == state});
  page.Family("ferry_broker_reconnects_total", "counter", "Times a broker connection came back after a loss.");
  for (const auto& b : s.brokers)
    page.Sample("ferry_broker_reconnects_total", fmt::format("broker=\"{}\"", Escape(b.name)), b.reconnects);

  page.Family("ferry_broker_unconfirmed_publishes", "gauge",
              "Publishes in the connection's window, not yet confirmed by the broker.");
  for (const auto& b : s.brokers)
    page.Sample("ferry_broker_unconfirmed_publishes", fmt::format("broker=\"{}\"", Escape(b.name)), b.unconfirmed);

  if (s.spans.on) {
    page.Family("ferry_spans_exported_total", "counter", "Spans the OTLP collector accepted.");
    page.Plain("ferry_spans_exported_total", s.spans.exported);
    page.Family("ferry_spans_dropped_total", "counter",
                "Spans not exported: queue full, collector unreachable or refusing, or rejected by it.");
    page.Plain("ferry_spans_dropped_total", s.spans.dropped);
  }
  page.Family("ferry_ready", "gauge", "1 when every broker is connected and every component runs.");
  page.Plain("ferry_ready", std::uint64_t{s.ready});
  page.Family("process_resident_memory_bytes", "gauge", "Resident memory of the host process.");
  page.Plain("process_resident_memory_bytes", s.process.resident_bytes);
  page.Family("process_open_fds", "gauge", "Open file descriptors.");
  page.Plain("process_open_fds", s.process.open_files);
  page.Family("ferry_process_threads", "gauge", "Threads of the host process.");
  page.Plain("ferry_process_threads", s.process.threads);
  page.Family("ferry_uptime_seconds", "gauge", "Seconds since the host started.");
  page.Plain("ferry_uptime_seconds", s.process.uptime_seconds);
  return page.Take();
}

std::string RenderJson(const HostSnapshot& s) {
  using nlohmann::json;
  json components = json::array();
  for (const auto& c : s.components) {
    json failed_by = json::object();
    for (Failure f : kAllFailures) failed_by[std::string(FailureName(f))] = c.failed_by[static_cast<std::size_t>(f)];
    json topics = json::object();
    for (const auto& [topic, counts] : c.topics)
      topics[topic] = {{"received", counts.received}, {"handled", counts.handled}, {"failed", counts.failed}};
    const double mean_ms = c.durations.count ? c.durations.sum_seconds * 1e3 / c.durations.count : 0.0;
    components.push_back({{"name", c.name},
                          {"broker", c.broker},
                          {"received", c.received},
                          {"handled", c.handled},
                          {"failed", c.failed},
                          {"failed_by_reason", failed_by},
                          {"abandoned", c.abandoned},
                          {"retried", c.retried},
                          {"given_up", c.given_up},
                          {"dead_lettered", c.dead_lettered},
                          {"released", c.released},
                          {"settle_failed", c.settle_failed},
                          {"in_flight", c.in_flight},
                          {"queue_depth", c.queue_depth},
                          {"instances_created", c.instances_created},
                          {"handler_calls", c.durations.count},
                          {"handler_mean_ms", mean_ms},
                          {"topics", topics}});
  }
  json brokers = json::array();
  for (const auto& b : s.brokers)
    brokers.push_back({{"name", b.name},
                       {"url", b.url},
                       {"state", b.state},
                       {"reconnects", b.reconnects},
                       {"unconfirmed", b.unconfirmed}});
  json out = {{"ready", s.ready},
              {"components", components},
              {"brokers", brokers},
              {"process",
               {{"resident_bytes", s.process.resident_bytes},
                {"threads", s.process.threads},
                {"open_files", s.process.open_files},
                {"uptime_seconds", s.process.uptime_seconds}}}};
  if (s.spans.on) out["spans"] = {{"exported", s.spans.exported}, {"dropped", s.spans.dropped}};
  if (!s.ready) out["not_ready_because"] = s.not_ready_because;
  return out.dump();
}

}  // namespace ferry
