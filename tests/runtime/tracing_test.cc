// Trace context through two components: the trace id stays, each hop gets
// a span id of its own, and [host].tracing starts traces and logs spans.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/matchers.h"
#include "support/trace_chain.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string Chain(bool tracing) { return TraceChainConfig(tracing ? "tracing = true\n" : "tracing = false\n"); }

struct Parent {
  std::string trace, span;
};

Parent Parse(const Message& m) {
  const auto value = m.metadata.Get("traceparent");
  EXPECT_TRUE(value) << "no traceparent on " << m.topic;
  if (!value) return {};
  EXPECT_THAT(std::string(*value), MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"));
  return {std::string(value->substr(3, 32)), std::string(value->substr(36, 16))};
}

TEST(Tracing, TheTraceIdStaysAndEveryHopHasASpanOfItsOwn) {
  RunningHost h(Chain(false));
  ASSERT_OK(h.start_status());
  Inbox& first = h.Listen("echo.out");
  Inbox& second = h.Listen("transform.out");
  ASSERT_OK(h.Publish("echo.in", "hello",
                      Metadata{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                               {"tracestate", "rojo=00f067aa0ba902b7"}}));
  auto a = first.WaitFor(1);
  auto b = second.WaitFor(1);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  const Parent pa = Parse(a[0]), pb = Parse(b[0]);
  EXPECT_EQ(pa.trace, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(pb.trace, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_NE(pa.span, "b7ad6b7169203331");
  EXPECT_NE(pb.span, pa.span);
  EXPECT_EQ(b[0].metadata.Get("tracestate"), "rojo=00f067aa0ba902b7");
}

TEST(Tracing, WithoutTracingNoTraceIsMadeUp) {
  RunningHost h(Chain(false));
  ASSERT_OK(h.start_status());
  Inbox& second = h.Listen("transform.out");
  ASSERT_OK(h.Publish("echo.in", "hello"));
  auto b = second.WaitFor(1);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FALSE(b[0].metadata.Get("traceparent"));
}

TEST(Tracing, TracingStartsATraceAndLogsEachSpan) {
  LogCapture log;
  RunningHost h(Chain(true), "info");
  ASSERT_OK(h.start_status());
  Inbox& second = h.Listen("transform.out");
  ASSERT_OK(h.Publish("echo.in", "hello"));
  auto b = second.WaitFor(1);
  ASSERT_EQ(b.size(), 1u);
  const Parent pb = Parse(b[0]);
  // One span line per hop, both in the new trace; the second names the
  // first as its parent.
  ASSERT_TRUE(log.WaitFor("transformer: span trace=" + pb.trace + " span=" + pb.span));
  EXPECT_EQ(log.Count("span trace=" + pb.trace), 2u);
  EXPECT_EQ(log.Count("echo: span trace=" + pb.trace), 1u);
  bool chained = false;
  for (const std::string& line : log.Lines())
    if (line.find("echo: span trace=" + pb.trace) != std::string::npos) {
      const auto at = line.find("span=") + 5;
      const std::string echo_span = line.substr(at, 16);
      chained = log.Count("transformer: span trace=" + pb.trace + " span=" + pb.span + " parent=" + echo_span) == 1;
      EXPECT_THAT(line, HasSubstr("parent=- topic=echo.in outcome=ok"));
    }
  EXPECT_TRUE(chained);
}

}  // namespace
}  // namespace ferry::testing
