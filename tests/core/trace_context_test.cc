// W3C trace context: parsing, new spans, and what outgoing messages carry.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/trace_context.h"

namespace ferry {
namespace {

using ::testing::MatchesRegex;

constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

Message With(std::initializer_list<Metadata::Entry> entries) {
  Message m;
  m.metadata = Metadata(entries);
  return m;
}

TEST(TraceContext, ADeliveredParentBecomesTheParentOfANewSpan) {
  auto span = SpanFor(With({{"traceparent", kParent}, {"tracestate", "congo=t61rcWkgMzE"}}), false);
  ASSERT_TRUE(span);
  EXPECT_EQ(span->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span->parent_id, "00f067aa0ba902b7");
  EXPECT_THAT(span->span_id, MatchesRegex("[0-9a-f]{16}"));
  EXPECT_NE(span->span_id, span->parent_id);
  EXPECT_EQ(span->TraceParent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-" + span->span_id + "-01");

  Message out;
  Stamp(out, *span);
  EXPECT_EQ(out.metadata.Get("traceparent"), span->TraceParent());
  EXPECT_EQ(out.metadata.Get("tracestate"), "congo=t61rcWkgMzE");
}

TEST(TraceContext, WithoutOneATraceStartsOnlyWhenAsked) {
  EXPECT_FALSE(SpanFor(With({}), false));
  auto span = SpanFor(With({}), true);
  ASSERT_TRUE(span);
  EXPECT_THAT(span->trace_id, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_TRUE(span->parent_id.empty());
  EXPECT_NE(SpanFor(With({}), true)->trace_id, span->trace_id);
}

TEST(TraceContext, InvalidParentsAreIgnored) {
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"}) {  // 00 with more
    SCOPED_TRACE(bad);
    EXPECT_FALSE(SpanFor(With({{"traceparent", bad}}), false));
  }
  // A later version may append fields; its first four are read.
  auto later = SpanFor(With({{"traceparent", std::string("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")}}),
                       false);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceContext, AGuestsOwnTraceParentIsKeptButAForwardedOneIsReplaced) {
  auto span = SpanFor(With({{"traceparent", kParent}}), false);
  ASSERT_TRUE(span);
  // Forwarded as it came: this call's span takes its place.
  Message forwarded = With({{"traceparent", kParent}});
  Stamp(forwarded, *span);
  EXPECT_EQ(forwarded.metadata.Get("traceparent"), span->TraceParent());
  // Set by the guest to something else: left alone.
  const std::string own = "00-11111111111111111111111111111111-2222222222222222-00";
  Message guest = With({{"traceparent", own}});
  Stamp(guest, *span);
  EXPECT_EQ(guest.metadata.Get("traceparent"), own);
}

}  // namespace
}  // namespace ferry
