#include "core/trace_context.h"

#include <random>

#include <fmt/format.h>

namespace ferry {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string RandomHex(int digits) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  while (static_cast<int>(out.size()) < digits) {
    std::uint64_t v = rng();
    if (v == 0) continue;  // an id of all zeros is invalid
    out += fmt::format("{:016x}", v);
  }
  return out.substr(0, digits);
}

// version-traceid-parentid-flags, as version 00 defines it. Later versions
// may add fields after these; their first four are read the same way.
bool Parse(std::string_view value, TraceSpan& span) {
  if (value.size() < 55 || value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
  const std::string_view version = value.substr(0, 2), trace = value.substr(3, 32),
                         parent = value.substr(36, 16), flags = value.substr(53, 2);
  if (!IsLowerHex(version) || version == "ff" || !IsLowerHex(trace) || !IsLowerHex(parent) || !IsLowerHex(flags))
    return false;
  if (version == "00" && value.size() != 55) return false;
  if (version != "00" && value.size() > 55 && value[55] != '-') return false;
  if (AllZero(trace) || AllZero(parent)) return false;
  span.trace_id = std::string(trace);
  span.parent_id = std::string(parent);
  span.flags = std::string(flags);
  return true;
}

}  // namespace

std::string TraceSpan::TraceParent() const { return "00-" + trace_id + "-" + span_id + "-" + flags; }

bool TraceSpan::Sampled() const {
  // flags is two lowercase hex digits (checked when it was read); bit 0.
  const char low = flags.size() == 2 ? flags[1] : '0';
  const int value = low <= '9' ? low - '0' : low - 'a' + 10;
  return (value & 1) != 0;
}

std::optional<TraceSpan> SpanFor(const Message& delivered, bool start_new) {
  TraceSpan span;
  const auto parent = delivered.metadata.Get(kTraceParentKey);
  if (parent && Parse(*parent, span)) {
    span.incoming = std::string(*parent);
    if (auto state = delivered.metadata.Get(kTraceStateKey)) span.tracestate = std::string(*state);
  } else if (start_new) {
    span.trace_id = RandomHex(32);
  } else {
    return std::nullopt;
  }
  span.span_id = RandomHex(16);
  return span;
}

void Stamp(Message& outgoing, const TraceSpan& span) {
  const auto own = outgoing.metadata.Get(kTraceParentKey);
  if (own && *own != span.incoming) return;  // the guest's own context wins
  outgoing.metadata.Set(std::string(kTraceParentKey), span.TraceParent());
  if (!span.tracestate.empty()) outgoing.metadata.Set(std::string(kTraceStateKey), span.tracestate);
}

}  // namespace ferry
