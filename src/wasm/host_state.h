// Per-store host state: the resources a guest holds (clients, messages,
// request options) and the services of its component. It lives in the
// wasmtime Store's data, never in globals.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wasmtime.hh>

#include "brokers/broker.h"
#include "ferry/message.h"
#include "wasm/guest.h"

namespace ferry::wasm {

// Resource type tags handed to wasmtime; a guest cannot forge them.
inline constexpr std::uint32_t kClientType = 1;
inline constexpr std::uint32_t kMessageType = 2;
inline constexpr std::uint32_t kRequestOptionsType = 3;
inline constexpr std::uint32_t kErrorType = 4;  // 0.1.0's error resource

// A table of live objects addressed by a 32-bit "rep" (index + 1, so 0 is
// never valid). Freed slots are reused.
template <typename T>
class Slab {
 public:
  std::uint32_t Insert(T value) {
    if (!free_.empty()) {
      std::uint32_t index = free_.back();
      free_.pop_back();
      slots_[index] = std::move(value);
      return index + 1;
    }
    slots_.emplace_back(std::move(value));
    return static_cast<std::uint32_t>(slots_.size());
  }
  T* Get(std::uint32_t rep) {
    if (rep == 0 || rep > slots_.size() || !slots_[rep - 1]) return nullptr;
    return &*slots_[rep - 1];
  }
  std::optional<T> Take(std::uint32_t rep) {
    T* found = Get(rep);
    if (!found) return std::nullopt;
    std::optional<T> out(std::move(*found));
    slots_[rep - 1].reset();
    free_.push_back(rep - 1);
    return out;
  }
  std::size_t live() const { return slots_.size() - free_.size(); }

 private:
  std::vector<std::optional<T>> slots_;
  std::vector<std::uint32_t> free_;
};

struct ClientEntry {
  std::string name;
  Broker* broker = nullptr;
  bool connected = true;
};

struct MessageEntry {
  Message message;
  Broker* origin = nullptr;  // the broker it arrived on; replies go back there
};

struct RequestOptionsEntry {
  std::optional<std::uint32_t> timeout_ms;
  std::optional<std::uint32_t> expected_replies;
};

// A message handed to the guest during the current call, found again by the
// tag it carries in its metadata (0.1.0 messages are records, not handles).
struct CallDelivery {
  std::string tag;
  Verdict verdict = Verdict::kNone;
  bool pulled = false;  // from subscribe-receive: consumed when received
};

struct HostState {
  std::shared_ptr<const GuestServices> services;
  Slab<ClientEntry> clients;
  Slab<MessageEntry> messages;
  Slab<RequestOptionsEntry> request_options;
  Slab<std::string> errors;         // 0.1.0 error resources: their text
  std::string last_error;           // what 0.1.0's error.trace() returns
  std::vector<CallDelivery> call;   // messages of the current handler call
  Deadline call_deadline{};         // when the current guest call is cut off
};

inline HostState& StateOf(wasmtime::Store::Context cx) {
  return *std::any_cast<HostState*>(cx.get_data());
}

}  // namespace ferry::wasm
