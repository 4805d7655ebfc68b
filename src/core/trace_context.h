// W3C trace context (https://www.w3.org/TR/trace-context/) carried in
// message metadata: the `traceparent` of a delivered message becomes the
// parent of the span a handler call is, and every message that call sends,
// requests or replies with carries the same trace id with that span's id.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ferry/message.h"

namespace ferry {

inline constexpr std::string_view kTraceParentKey = "traceparent";
inline constexpr std::string_view kTraceStateKey = "tracestate";

// One handler call as a span.
struct TraceSpan {
  std::string trace_id;   // 32 lowercase hex digits, not all zero
  std::string span_id;    // 16 lowercase hex digits: this call
  std::string parent_id;  // the span that sent the delivery; empty for a new trace
  std::string flags = "01";
  std::string tracestate;          // passed on as it came
  std::string incoming;            // the delivery's traceparent, verbatim (empty: none)

  // "00-<trace>-<span>-<flags>": what messages sent from this call carry.
  std::string TraceParent() const;
  // The sampled bit of the trace flags: only sampled spans are exported.
  bool Sampled() const;
};

// The span of a call handling `delivered`: a child of its valid traceparent,
// or, when it has none (or an invalid one) and `start_new`, the root of a
// new trace; nullopt otherwise.
std::optional<TraceSpan> SpanFor(const Message& delivered, bool start_new);

// Marks `outgoing` as sent from `span`: sets traceparent (and tracestate)
// unless the guest set a traceparent of its own, other than the one it
// was delivered with.
void Stamp(Message& outgoing, const TraceSpan& span);

// The span of the handler call running on this thread, if any.
inline thread_local const TraceSpan* current_span = nullptr;

}  // namespace ferry
