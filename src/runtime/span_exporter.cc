#include "runtime/span_exporter.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdlib>
#include <optional>
#include <nlohmann/json.hpp>

#include "core/http_url.h"
#include "core/thread_name.h"

namespace ferry {
namespace {

using Json = nlohmann::json;

const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

// The first of two variables that is set, and its name (for errors).
std::pair<const char*, const char*> EnvEither(const char* specific, const char* general) {
  if (const char* v = Env(specific)) return {specific, v};
  if (const char* v = Env(general)) return {general, v};
  return {nullptr, nullptr};
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    unsigned value = 0;
    for (std::size_t k = 1; k <= 2; ++k) {
      if (i + k >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + k]))) return std::nullopt;
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + k])));
      value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

// "key1=value1,key2=value2". Errors name the entry by position, never its
// value: these headers usually carry an API key.
Result<std::vector<std::pair<std::string, std::string>>> ParseHeaders(std::string_view list,
                                                                       std::string_view variable) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t index = 0;
  while (!list.empty()) {
    ++index;
    const std::size_t comma = list.find(',');
    const std::string_view entry = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    const std::size_t eq = entry.find('=');
    const auto key = eq == std::string_view::npos ? std::nullopt : PercentDecode(Trim(entry.substr(0, eq)));
    const auto value = eq == std::string_view::npos ? std::nullopt : PercentDecode(Trim(entry.substr(eq + 1)));
    if (!key || key->empty() || !value)
      return Error::InvalidArgument(std::string(variable) + ": entry " + std::to_string(index) +
                                    " is not key=value (values percent-encoded)");
    out.emplace_back(*key, *value);
  }
  return out;
}

Json StringAttribute(std::string_view key, std::string_view value) {
  return {{"key", key}, {"value", {{"stringValue", value}}}};
}

Json IntAttribute(std::string_view key, std::uint64_t value) {
  // OTLP/JSON writes 64-bit integers as strings.
  return {{"key", key}, {"value", {{"intValue", std::to_string(value)}}}};
}

constexpr int kSpanKindConsumer = 5;
constexpr int kStatusError = 2;

// Rejected spans a collector reports in a partial success, with its reason.
std::pair<std::uint64_t, std::string> Rejected(const std::string& body) {
  const Json reply = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object() || !reply.contains("partialSuccess")) return {0, {}};
  const Json& partial = reply["partialSuccess"];
  std::uint64_t count = 0;
  if (partial.contains("rejectedSpans")) {
    const Json& r = partial["rejectedSpans"];
    if (r.is_string()) count = std::strtoull(r.get<std::string>().c_str(), nullptr, 10);
    if (r.is_number_unsigned()) count = r.get<std::uint64_t>();
  }
  std::string why = partial.contains("errorMessage") && partial["errorMessage"].is_string()
                        ? partial["errorMessage"].get<std::string>()
                        : std::string();
  return {count, why};
}

std::string Why(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::ConnectionTimeout: return "connecting timed out";
    case httplib::Error::Read: return "no reply (read failed or timed out)";
    case httplib::Error::Write: return "sending failed";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts: return "cannot load the CA certificates";
    case httplib::Error::SSLServerVerification: return "the collector's certificate is not trusted";
    default: return "HTTP client error: " + httplib::to_string(error);
  }
}

bool Retryable(int status) { return status == 429 || status == 502 || status == 503 || status == 504; }

}  // namespace

Result<SpanExporterOptions> SpanExporterOptionsFor(std::string_view endpoint) {
  SpanExporterOptions options;
  options.endpoint = std::string(endpoint);
  auto [headers_var, headers] = EnvEither("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS");
  if (headers) {
    auto parsed = ParseHeaders(headers, headers_var);
    if (!parsed.ok()) return parsed.error();
    options.headers = std::move(parsed).value();
  }
  auto [ca_var, ca] = EnvEither("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE");
  if (ca) options.ca_file = ca;
  if (const char* name = Env("OTEL_SERVICE_NAME")) options.service_name = name;
  return options;
}

std::string OtlpTracesJson(const std::vector<FinishedSpan>& spans, std::string_view service_name) {
  Json list = Json::array();
  for (const FinishedSpan& s : spans) {
    Json attributes = Json::array({StringAttribute("messaging.operation.type", "process"),
                                   StringAttribute("messaging.destination.name", s.topic),
                                   StringAttribute("ferry.component", s.component)});
    if (s.messages > 1) attributes.push_back(IntAttribute("messaging.batch.message_count", s.messages));
    Json span = {{"traceId", s.trace_id},
                 {"spanId", s.span_id},
                 {"name", "process " + s.topic},
                 {"kind", kSpanKindConsumer},
                 {"startTimeUnixNano", std::to_string(s.start_unix_ns)},
                 {"endTimeUnixNano", std::to_string(s.end_unix_ns)},
                 {"attributes", std::move(attributes)}};
    if (!s.parent_id.empty()) span["parentSpanId"] = s.parent_id;
    if (!s.tracestate.empty()) span["traceState"] = s.tracestate;
    // Success leaves the status unset, as instrumentation does.
    if (!s.failure.empty()) span["status"] = {{"code", kStatusError}, {"message", s.failure}};
    list.push_back(std::move(span));
  }
  Json request = {
      {"resourceSpans",
       Json::array({{{"resource", {{"attributes", Json::array({StringAttribute("service.name", service_name)})}}},
                     {"scopeSpans",
                      Json::array({{{"scope", {{"name", "ferry"}, {"version", FERRY_VERSION}}},
                                    {"spans", std::move(list)}}})}}})}};
  return request.dump();
}

Result<std::unique_ptr<SpanExporter>> SpanExporter::Start(SpanExporterOptions options) {
  auto url = ParseHttpUrl(options.endpoint);
  if (!url.ok()) return url.error().WithContext("otlp_endpoint");
  if (url->path == "/") url->path = "/v1/traces";
  if (!options.ca_file.empty() && !url->origin.starts_with("https://"))
    return Error::InvalidArgument("otlp_endpoint: a CA file is set for spans but '" + options.endpoint +
                                  "' is not https://");
  std::unique_ptr<SpanExporter> exporter(
      new SpanExporter(std::move(options), std::move(url->origin), std::move(url->path)));
  exporter->thread_ = std::thread([e = exporter.get()] { e->Run(); });
  return exporter;
}

SpanExporter::SpanExporter(SpanExporterOptions options, std::string origin, std::string path)
    : options_(std::move(options)), origin_(std::move(origin)), path_(std::move(path)) {}

SpanExporter::~SpanExporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SpanExporter::Record(FinishedSpan span) {
  std::size_t queued = 0;
  {
    std::lock_guard lock(mutex_);
    queued = queue_.size();
    if (queued < options_.max_queued) queue_.push_back(std::move(span));
  }
  if (queued >= options_.max_queued)
    dropped_.fetch_add(1, std::memory_order_relaxed);
  else if (queued + 1 == options_.max_batch)
    wake_.notify_one();
}

void SpanExporter::Run() {
  NameThisThread("otlp");
  std::unique_lock lock(mutex_);
  std::optional<std::chrono::steady_clock::time_point> flush_until;
  for (;;) {
    wake_.wait_for(lock, options_.interval,
                   [&] { return stopping_ || queue_.size() >= options_.max_batch; });
    if (stopping_ && !flush_until) flush_until = std::chrono::steady_clock::now() + options_.timeout;
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    if (flush_until && std::chrono::steady_clock::now() > *flush_until) {
      // Out of time at exit: what is left is counted, not sent.
      dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
      spdlog::warn("otlp: {} spans not sent to {} before exit", queue_.size(), options_.endpoint);
      return;
    }
    std::vector<FinishedSpan> batch;
    if (queue_.size() <= options_.max_batch) {
      batch.swap(queue_);
    } else {
      const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(options_.max_batch);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
      queue_.erase(queue_.begin(), end);
    }
    const bool last_chance = stopping_;
    lock.unlock();
    if (!Send(batch, last_chance)) dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
    lock.lock();
  }
}

bool SpanExporter::Send(const std::vector<FinishedSpan>& batch, bool last_chance) {
  // Made per batch: a connection kept between batches a second apart would
  // mostly be one the collector has already closed.
  httplib::Client client(origin_);
  const auto seconds = [](std::chrono::milliseconds ms) { return ms.count() / 1000; };
  const auto micros = [](std::chrono::milliseconds ms) { return (ms.count() % 1000) * 1000; };
  client.set_connection_timeout(seconds(options_.timeout), micros(options_.timeout));
  client.set_read_timeout(seconds(options_.timeout), micros(options_.timeout));
  client.set_write_timeout(seconds(options_.timeout), micros(options_.timeout));
  if (!options_.ca_file.empty()) client.set_ca_cert_path(options_.ca_file);
  httplib::Headers headers;
  for (const auto& [key, value] : options_.headers) headers.emplace(key, value);
  const std::string body = OtlpTracesJson(batch, options_.service_name);

  std::string why;
  for (int attempt = 0;; ++attempt) {
    auto reply = client.Post(path_, headers, body, "application/json");
    if (reply && reply->status / 100 == 2) {
      const auto [rejected, reason] = Rejected(reply->body);
      exported_.fetch_add(batch.size() - std::min<std::uint64_t>(rejected, batch.size()),
                          std::memory_order_relaxed);
      dropped_.fetch_add(std::min<std::uint64_t>(rejected, batch.size()), std::memory_order_relaxed);
      if (rejected > 0)
        spdlog::warn("otlp: {} rejected {} of {} spans: {}", options_.endpoint, rejected, batch.size(),
                     reason.empty() ? "no reason given" : reason);
      if (failing_) {
        failing_ = false;
        spdlog::info("otlp: spans reach {} again ({} dropped so far)", options_.endpoint, dropped());
      }
      return true;
    }
    const bool retry = !reply || Retryable(reply->status);
    why = reply ? "HTTP " + std::to_string(reply->status) + (reply->body.empty() ? "" : ": " + reply->body.substr(0, 200))
                : Why(reply.error());
    if (!retry || last_chance || attempt == 2) break;
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(250) * (1 << (2 * attempt)), [&] { return stopping_; }))
      break;
  }
  if (!failing_) {
    failing_ = true;
    spdlog::warn("otlp: cannot export spans to {}: {}; spans are dropped while this lasts",
                 options_.endpoint, why);
  }
  return false;
}

}  // namespace ferry
