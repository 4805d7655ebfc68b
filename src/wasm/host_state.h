// What the host keeps for one guest instance: its component's services, the
// deadline of the call running now, and the guest's output sinks. The
// engine holds the guest's resources; this is what host calls need.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "brokers/broker.h"
#include "brokers/pending_sends.h"
#include "wasm/engine_abi.h"
#include "wasm/guest.h"
#include "wasm/guest_output.h"

namespace ferry::wasm {

struct HostState {
  explicit HostState(std::shared_ptr<const GuestServices> s)
      : services(std::move(s)),
        out(services->component_name, spdlog::level::info),
        err(services->component_name, spdlog::level::warn) {}

  std::shared_ptr<const GuestServices> services;
  Deadline call_deadline{};  // when the current guest call is cut off
  // Requested when the instance stops: requests stop waiting for replies.
  std::stop_token stop;
  // The handling in progress, when the runtime settles its deliveries only
  // once their sends are confirmed: sends return once in the broker's
  // window and are tracked here. Null: sends wait for the broker. Set and
  // read on the worker thread that owns this instance.
  std::shared_ptr<PendingSends> sends;
  LineSink out;              // the guest's stdout
  LineSink err;              // the guest's stderr
};

// A component's limits and grants as the engine's ABI takes them when an
// instance is made. Points into `services`, which must outlive it.
class InstanceTerms {
 public:
  explicit InstanceTerms(const GuestServices& s)
      : limits{s.max_memory_bytes,        s.max_message_bytes,       s.max_metadata_bytes,
               s.max_guest_messages,      s.max_guest_message_bytes, s.max_guest_clients,
               s.max_guest_request_options} {
    http_.reserve(s.allow_http.size());
    for (const std::string& p : s.allow_http) http_.push_back(fe_str{p.data(), p.size()});
    grants = fe_grants{http_.data(), http_.size()};
  }
  InstanceTerms(const InstanceTerms&) = delete;
  InstanceTerms& operator=(const InstanceTerms&) = delete;

  fe_limits limits;
  fe_grants grants{};

 private:
  std::vector<fe_str> http_;
};

// The bounds of a guest call that must end by `deadline` (its start +
// handler_timeout): epoch ticks, fuel, and the deadline for the engine as
// nanoseconds of steady_clock, which is CLOCK_MONOTONIC as fe_budget asks.
inline fe_budget CallBudget(std::chrono::milliseconds epoch_tick, const GuestServices& s,
                            Deadline deadline) {
  const auto tick = epoch_tick.count();
  const auto ticks = static_cast<std::uint64_t>((s.handler_timeout.count() + tick - 1) / tick);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
  return {ticks, s.fuel_per_call,
          s.handler_timeout.count() > 0 ? static_cast<std::uint64_t>(ns.count()) : 0};
}

// The host side of the engine's callbacks: every function a guest can reach.
const fe_host_vtable& HostCalls();

// The interface's error for a Ferry error: the 2025 shapes carry `message`
// in its case, 0.1.0's trace() the whole text.
struct GuestError {
  fe_error_kind kind = FE_ERROR_OTHER;
  std::string message;
  std::string full;
};
GuestError ToGuestError(const Error& e);

}  // namespace ferry::wasm
