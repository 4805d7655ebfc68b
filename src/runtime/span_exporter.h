// OTLP/HTTP export of handler-call spans ([host].otlp_endpoint): spans
// are queued by the workers and sent in batches, as OTLP's JSON encoding,
// by one thread of the exporter's own. A slow or absent collector never
// holds a worker: past the queue's bound spans are dropped and counted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "ferry/result.h"

namespace ferry {

// One handler call, finished.
struct FinishedSpan {
  std::string trace_id, span_id, parent_id;  // hex; parent empty for a root
  std::string tracestate;
  std::string component, topic;
  std::uint64_t start_unix_ns = 0, end_unix_ns = 0;
  std::uint32_t messages = 1;  // the call's batch
  std::string failure;         // FailureName of the outcome; empty when it succeeded
};

struct SpanExporterOptions {
  std::string endpoint;  // the traces URL; one without a path gets /v1/traces
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every export
  std::string ca_file;   // https: trust this CA instead of the system's
  std::string service_name = "ferry";
  std::size_t max_queued = 4096;
  std::size_t max_batch = 512;
  std::chrono::milliseconds interval{1000};  // longest a span waits to be sent
  std::chrono::milliseconds timeout{5000};   // one export request; also the flush at exit
};

// The options for `endpoint` with what the OpenTelemetry environment
// variables add: OTEL_EXPORTER_OTLP_TRACES_HEADERS (or _HEADERS),
// OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE (or _CERTIFICATE) and
// OTEL_SERVICE_NAME. Header values are percent-decoded, as the variables
// define them.
Result<SpanExporterOptions> SpanExporterOptionsFor(std::string_view endpoint);

// The body of one export request (ExportTraceServiceRequest, OTLP/JSON).
std::string OtlpTracesJson(const std::vector<FinishedSpan>& spans, std::string_view service_name);

class SpanExporter {
 public:
  static Result<std::unique_ptr<SpanExporter>> Start(SpanExporterOptions options);
  // Sends what is still queued (within options.timeout), then stops.
  ~SpanExporter();
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  // Any thread; never waits for the network.
  void Record(FinishedSpan span);

  std::uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  const std::string& endpoint() const { return options_.endpoint; }

 private:
  explicit SpanExporter(SpanExporterOptions options, std::string origin, std::string path);
  void Run();
  // One export request with retries on errors the collector says are
  // passing; false when the batch could not be sent.
  bool Send(const std::vector<FinishedSpan>& batch, bool last_chance);

  const SpanExporterOptions options_;
  const std::string origin_, path_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<FinishedSpan> queue_;  // under mutex_
  bool stopping_ = false;            // under mutex_
  bool failing_ = false;             // exporter thread only: logged the outage
  std::atomic<std::uint64_t> exported_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace ferry
