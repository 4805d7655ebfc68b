// [host].otlp_endpoint: each sampled handler call's span reaches an OTLP/HTTP
// collector as JSON, chained across components; a collector that is down
// or refusing never holds a worker, and what it misses is counted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/http_url.h"
#include "runtime/span_exporter.h"
#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/matchers.h"
#include "support/metrics_page.h"
#include "support/ports.h"
#include "support/trace_chain.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// An OTLP/HTTP traces receiver on loopback: keeps what it is sent and
// answers each export with the next of `statuses` (then 200).
class Collector {
 public:
  explicit Collector(std::vector<int> statuses = {}) : statuses_(std::move(statuses)) {
    server_.Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      ++requests_;
      content_types_.push_back(req.get_header_value("Content-Type"));
      authorization_ = req.get_header_value("authorization");
      tenant_ = req.get_header_value("x-tenant");
      const int status = answered_ < statuses_.size() ? statuses_[answered_] : 200;
      ++answered_;
      res.status = status;
      if (status == 200) {
        const Json body = Json::parse(req.body);
        for (const Json& resource : body.at("resourceSpans")) {
          resources_.push_back(resource.at("resource"));
          for (const Json& scope : resource.at("scopeSpans"))
            for (const Json& span : scope.at("spans")) spans_.push_back(span);
        }
        res.set_content("{}", "application/json");
      }
      changed_.notify_all();
    });
    port_ = static_cast<std::uint16_t>(server_.bind_to_any_port("127.0.0.1"));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the loop runs would be lost, and the destructor wait.
    for (int i = 0; i < 1000 && !server_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~Collector() {
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<Json> WaitForSpans(std::size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(30), [&] { return spans_.size() >= n; });
    return spans_;
  }
  std::vector<Json> Spans() {
    std::lock_guard lock(mutex_);
    return spans_;
  }
  std::vector<Json> Resources() {
    std::lock_guard lock(mutex_);
    return resources_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<std::string> content_types() {
    std::lock_guard lock(mutex_);
    return content_types_;
  }
  std::pair<std::string, std::string> headers() {
    std::lock_guard lock(mutex_);
    return {authorization_, tenant_};
  }

 private:
  httplib::Server server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> statuses_;
  std::size_t answered_ = 0;
  int requests_ = 0;
  std::vector<Json> spans_, resources_;
  std::vector<std::string> content_types_;
  std::string authorization_, tenant_;
};

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

// The trace chain, and a component whose calls fail.
std::string Chain(const std::string& endpoint, bool tracing = true, const std::string& extra_host = "") {
  return TraceChainConfig(std::string("tracing = ") + (tracing ? "true" : "false") + "\notlp_endpoint = \"" +
                              endpoint + "\"\n" + extra_host,
                          R"(
[[component]]
name = "misbehave"
path = "$COMPONENTS/misbehave.wasm"
subscribe = ["misbehave.in"]
max_attempts = 1
)");
}

std::string Attribute(const Json& span, const std::string& key) {
  for (const Json& a : span.at("attributes"))
    if (a.at("key") == key) return a.at("value").at("stringValue").get<std::string>();
  return "<none>";
}

const Json* SpanOf(const std::vector<Json>& spans, const std::string& component) {
  for (const Json& s : spans)
    if (Attribute(s, "ferry.component") == component) return &s;
  return nullptr;
}

std::uint64_t Nanos(const Json& span, const char* field) {
  return std::stoull(span.at(field).get<std::string>());
}

TEST(Otlp, ACallChainArrivesAsParentAndChildSpans) {
  Collector collector;
  RunningHost h(Chain(collector.Url()));  // no path: /v1/traces
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("transform.out");
  const auto before = std::chrono::system_clock::now();
  ASSERT_OK(h.Publish("echo.in", "hello",
                      Metadata{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                               {"tracestate", "rojo=00f067aa0ba902b7"}}));
  ASSERT_EQ(out.WaitFor(1).size(), 1u);
  const std::vector<Json> spans = collector.WaitForSpans(2);
  ASSERT_EQ(spans.size(), 2u);
  const Json* echo = SpanOf(spans, "echo");
  const Json* transformer = SpanOf(spans, "transformer");
  ASSERT_TRUE(echo && transformer);

  EXPECT_EQ(echo->at("traceId"), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(transformer->at("traceId"), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(echo->at("parentSpanId"), "b7ad6b7169203331");
  EXPECT_EQ(transformer->at("parentSpanId"), echo->at("spanId"));
  EXPECT_EQ(echo->at("traceState"), "rojo=00f067aa0ba902b7");
  // The span the transformer's output names is the transformer's call.
  const std::string carried = std::string(*out.Snapshot()[0].metadata.Get("traceparent"));
  EXPECT_EQ(carried.substr(36, 16), transformer->at("spanId").get<std::string>());

  EXPECT_EQ(echo->at("name"), "process echo.in");
  EXPECT_EQ(echo->at("kind"), 5);  // consumer
  EXPECT_EQ(Attribute(*echo, "messaging.destination.name"), "echo.in");
  EXPECT_EQ(Attribute(*echo, "messaging.operation.type"), "process");
  EXPECT_FALSE(echo->contains("status")) << "a call that succeeded leaves the status unset";
  const auto since = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count());
  EXPECT_GE(Nanos(*echo, "startTimeUnixNano"), since - 1'000'000'000);  // clocks read at different points
  EXPECT_LE(Nanos(*echo, "startTimeUnixNano"), Nanos(*echo, "endTimeUnixNano"));
  // The transformer's call starts after the echo's sent it the message (it
  // may end first: the echo's span ends when its call has returned).
  EXPECT_LE(Nanos(*echo, "startTimeUnixNano"), Nanos(*transformer, "startTimeUnixNano"));

  const std::vector<Json> resources = collector.Resources();
  ASSERT_FALSE(resources.empty());
  EXPECT_EQ(resources[0].at("attributes")[0].at("key"), "service.name");
  EXPECT_EQ(resources[0].at("attributes")[0].at("value").at("stringValue"), "ferry");
  EXPECT_EQ(collector.content_types()[0], "application/json");
}

TEST(Otlp, AFailedCallIsAnErrorSpan) {
  Collector collector;
  RunningHost h(Chain(collector.Url("/v1/traces")));
  ASSERT_OK(h.start_status());
  ASSERT_OK(h.Publish("misbehave.in", "fail"));
  const std::vector<Json> spans = collector.WaitForSpans(1);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].at("status").at("code"), 2);
  EXPECT_EQ(spans[0].at("status").at("message"), "error");
  EXPECT_FALSE(spans[0].contains("parentSpanId")) << "tracing started a new trace: a root span";
}

TEST(Otlp, AnUnsampledTraceIsCarriedButNotExported) {
  Collector collector;
  RunningHost h(Chain(collector.Url()));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("transform.out");
  ASSERT_OK(h.Publish("echo.in", "not sampled",
                      Metadata{{"traceparent", "00-11111111111111111111111111111111-2222222222222222-00"}}));
  auto first = out.WaitFor(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_THAT(std::string(*first[0].metadata.Get("traceparent")),
              ::testing::MatchesRegex("00-11111111111111111111111111111111-[0-9a-f]{16}-00"));
  ASSERT_EQ(h.SettledStats("transformer", 1).handled, 1u);
  // Spans leave in the order they end: once the sampled call's two are
  // in, any of the unsampled call would be too.
  ASSERT_OK(h.Publish("echo.in", "sampled",
                      Metadata{{"traceparent", "00-33333333333333333333333333333333-4444444444444444-01"}}));
  const std::vector<Json> spans = collector.WaitForSpans(2);
  ASSERT_EQ(spans.size(), 2u);
  for (const Json& s : spans) EXPECT_EQ(s.at("traceId"), "33333333333333333333333333333333");
}

TEST(Otlp, HeadersAndServiceNameComeFromTheOpenTelemetryVariables) {
  ScopedEnv headers("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret-token, x-tenant=acme");
  ScopedEnv service("OTEL_SERVICE_NAME", "orders");
  Collector collector;
  RunningHost h(Chain(collector.Url()));
  ASSERT_OK(h.start_status());
  ASSERT_OK(h.Publish("misbehave.in", "fail"));
  ASSERT_EQ(collector.WaitForSpans(1).size(), 1u);
  EXPECT_EQ(collector.headers().first, "Bearer s3cret-token");
  EXPECT_EQ(collector.headers().second, "acme");
  EXPECT_EQ(collector.Resources()[0].at("attributes")[0].at("value").at("stringValue"), "orders");
}

TEST(Otlp, AMalformedHeaderVariableStopsTheHostWithoutShowingItsValue) {
  ScopedEnv headers("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "authorization s3cret-token");
  Collector collector;
  RunningHost h(Chain(collector.Url()));
  ASSERT_FALSE(h.start_status().ok());
  const std::string message = h.start_status().error().message();
  EXPECT_THAT(message, HasSubstr("OTEL_EXPORTER_OTLP_TRACES_HEADERS: entry 1 is not key=value"));
  EXPECT_THAT(message, Not(HasSubstr("s3cret")));
}

TEST(Otlp, ARefusingCollectorIsRetriedAndSpansStillArrive) {
  Collector collector({503, 429});
  RunningHost h(Chain(collector.Url()));
  ASSERT_OK(h.start_status());
  ASSERT_OK(h.Publish("misbehave.in", "fail"));
  ASSERT_EQ(collector.WaitForSpans(1).size(), 1u);
  EXPECT_EQ(collector.requests(), 3);
}

TEST(Otlp, ACollectorThatIsDownHoldsNoWorkerAndDroppedSpansAreCounted) {
  LogCapture log;
  const std::uint16_t metrics = FreePort();
  const std::uint16_t nobody = FreePort();
  RunningHost h(Chain("http://127.0.0.1:" + std::to_string(nobody),
                      true, "metrics = \"127.0.0.1:" + std::to_string(metrics) + "\"\n"));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("transform.out");
  for (int i = 0; i < 50; ++i) ASSERT_OK(h.Publish("echo.in", "m" + std::to_string(i)));
  ASSERT_EQ(out.WaitFor(50).size(), 50u);
  ASSERT_TRUE(log.WaitFor("otlp: cannot export spans to http://127.0.0.1:" + std::to_string(nobody) +
                          ": cannot connect; spans are dropped while this lasts"));

  httplib::Client client("127.0.0.1", metrics);
  double dropped = 0;
  for (int i = 0; i < 300 && dropped < 100; ++i) {  // 2 spans per message
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res);
    auto page = MetricsPage::Parse(res->body);
    ASSERT_OK(page);
    dropped = page->Value("ferry_spans_dropped_total", {});
    EXPECT_EQ(page->Value("ferry_spans_exported_total", {}), 0);
    if (dropped < 100) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(dropped, 100);
  EXPECT_EQ(log.Count("otlp: cannot export spans"), 1u) << "one line per outage, not per batch";
}

TEST(Otlp, BadEndpointsAreConfigErrors) {
  for (const auto& [url, why] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:4318", "expected an http:// or https:// URL"},
           {"http://", "no host"},
           {"https://user:pw@collector:4318", "credentials"}}) {
    TempDir dir;
    HostOptions options;
    options.config_file = dir.Write("ferry.toml", "[host]\notlp_endpoint = \"" + url + "\"\n");
    auto host = Host::Create(options);
    ASSERT_FALSE(host.ok()) << url;
    EXPECT_THAT(host.error().message(), HasSubstr("host.otlp_endpoint")) << url;
    EXPECT_THAT(host.error().message(), HasSubstr(why)) << url;
    EXPECT_THAT(host.error().message(), Not(HasSubstr("pw@"))) << url;
  }
}

TEST(HttpUrl, SplitsOriginAndPath) {
  auto a = ParseHttpUrl("https://collector.example:4318/v1/traces?x=1");
  ASSERT_OK(a);
  EXPECT_EQ(a->origin, "https://collector.example:4318");
  EXPECT_EQ(a->path, "/v1/traces?x=1");
  auto b = ParseHttpUrl("http://[::1]:4318");
  ASSERT_OK(b);
  EXPECT_EQ(b->origin, "http://[::1]:4318");
  EXPECT_EQ(b->path, "/");
  EXPECT_FALSE(ParseHttpUrl("http://host/#frag").ok());
}

}  // namespace
}  // namespace ferry::testing
