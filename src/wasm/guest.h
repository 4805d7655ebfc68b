// What the runtime sees of a component: which shape of wasi:messaging it
// speaks, and instances it can hand messages to. No wasmtime type appears
// here; the runtime never touches the engine directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brokers/broker.h"
#include "brokers/pending_sends.h"
#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry {
struct TraceSpan;
}

namespace ferry::wasm {

class Engine;

// The published shapes of the interface a component can be built against.
enum class Shape {
  kDraft2025,   // wasi:messaging@0.2.0-draft: types, producer, request-reply, incoming-handler
  kV010,        // wasi:messaging@0.1.0: messaging-types, producer, consumer, messaging-guest
  kDraft2024,   // wasi:messaging@0.2.0-draft with the 0.1.0 interfaces (Feb 2024)
  kDraftAsync,  // kDraft2025's interfaces with async functions (WASI 0.3): calls run concurrently
};
std::string_view ShapeName(Shape shape);

// Imports and exports of a component file, for `ferry inspect` and checks.
struct ComponentReport {
  Shape shape;
  std::vector<std::string> imports;
  std::vector<std::string> exports;
};

// What a component asks for when configured (0.1.0's `configure()` and
// `update-guest-configuration`): channels to subscribe to and settings for
// the broker adapter, in the guest's order.
struct GuestConfiguration {
  std::vector<std::string> channels;
  std::vector<std::pair<std::string, std::string>> extensions;
};

// Changes a running component's subscriptions (0.1.0's
// update-guest-configuration); outlives the instance that asked.
using Reconfigure = std::function<Status(const GuestConfiguration&)>;

// Everything an instance needs from the host, for one component.
struct GuestServices {
  std::string component_name;
  // Resolves the name a guest passes to client.connect. An unknown name is a
  // Connection error naming it; a name not granted is PermissionDenied.
  std::function<Result<Broker*>(std::string_view name)> connect;
  std::uint64_t max_message_bytes = 8u << 20;
  std::uint64_t max_metadata_bytes = 64u << 10;
  // Bound on request-reply waits the guest asks to be unbounded.
  std::chrono::milliseconds max_request_wait{30000};
  // Fuel for one guest call (0: not metered; the engine must meter fuel).
  std::uint64_t fuel_per_call = 0;
  // Largest a linear memory of one instance may grow.
  std::uint64_t max_memory_bytes = 256u << 20;
  // Longest a single guest call may run before it is interrupted.
  std::chrono::milliseconds handler_timeout{30000};
  // Host-side state one instance may hold at once ([limits].max_guest_*).
  std::uint32_t max_guest_messages = 1024;
  std::uint64_t max_guest_message_bytes = 64u << 20;
  std::uint32_t max_guest_clients = 64;
  std::uint32_t max_guest_request_options = 64;
  // Set for components that may change their own subscriptions.
  Reconfigure reconfigure;
  // Capability grants (topic patterns); see Allowed().
  std::vector<std::string> allow_publish, allow_request, allow_subscribe;
  // Authorities its wasi:http requests may reach (checked by the engine).
  std::vector<std::string> allow_http;
  // Non-empty: what it sends is stamped as CloudEvents of this type, from
  // this source.
  std::string cloudevents_type;
  std::string cloudevents_source;
};

enum class Use { kPublish, kRequest, kSubscribe };
// PermissionDenied naming the component unless a grant of `use` covers
// `topic` (a topic, or a pattern for kSubscribe).
Status Allowed(const GuestServices& services, Use use, std::string_view topic);

// What a guest decided about one message while handling it.
enum class Verdict : std::uint8_t {
  kNone,      // nothing: the call's result decides
  kComplete,  // complete-message: handled, never deliver again
  kAbandon,   // abandon-message: deliver again later
};

// One message handed to a guest, with the broker it came from (replies go
// back through it).
struct Inbound {
  const Message* message;
  Broker* origin;
  // The call's span (async shape: what its sends, requests and replies are
  // stamped with); null when tracing is off. Outlives the call.
  const TraceSpan* span = nullptr;
};

// How a guest call failed, as the engine classified it (from trap codes
// and limits, never from text).
enum class CallFailure : std::uint8_t {
  kNone,
  kError,        // the handler returned its error case
  kTrap,         // a trap (unreachable, bad handle, out-of-bounds access, ...)
  kTimeout,      // handler_timeout_ms passed
  kFuel,         // fuel_per_call ran out
  kMemory,       // max_memory_bytes or a max_guest_* limit was hit
  kUnavailable,  // no instance could be made to run it
  kCancelled,    // async shape: the instance was stopped (shutdown) during the call
};

// The result of one handler call.
struct CallOutcome {
  Status status;                  // the guest's error, a trap or a timeout
  CallFailure failure = CallFailure::kNone;
  std::vector<Verdict> verdicts;  // one per message handed in
};

// One live instance with its own store. Not thread-safe: a worker thread
// owns it. After a trap the instance is poisoned and must be replaced.
class GuestInstance {
 public:
  virtual ~GuestInstance() = default;
  // Components that say what to subscribe to (0.1.0's configure()) return
  // it; the others return nullopt. Called once on a fresh instance.
  virtual Result<std::optional<GuestConfiguration>> Configure() = 0;
  // Calls the component's handler with `batch` (shapes whose handler takes
  // one message get batches of one). `started` is now: the caller read the
  // clock to time the call, and the call's deadline counts from it.
  virtual CallOutcome Handle(std::span<const Inbound> batch, Deadline started) = 0;
  // The sends of the calls that follow are tracked in `sends` (see
  // brokers/pending_sends.h) and return once the broker took them into its
  // window, without waiting for its confirmation; null (the default): each
  // send waits for it. The worker sets it before Handle.
  virtual void TrackSends(std::shared_ptr<PendingSends> sends) = 0;
  // True once a trap has left the instance unusable.
  virtual bool poisoned() const = 0;
  // Async shape only (CompiledComponent::concurrent()): starts a call with
  // one message and returns; `done` runs exactly once with its outcome, on
  // the instance's own thread (on this one when the instance is poisoned).
  // Thread-safe; any number may be in flight (the caller bounds them).
  // Destroying the instance ends those still in flight as kCancelled.
  using CallDone = std::function<void(CallOutcome)>;
  virtual void Start(const Inbound& in, CallDone done) {
    done({Error::Unsupported("this component's handler runs one call at a time"),
          CallFailure::kUnavailable, {}});
  }
};

class CompiledComponent {
 public:
  virtual ~CompiledComponent() = default;
  virtual const ComponentReport& report() const = 0;
  // True for shapes whose handler takes a list of messages.
  bool takes_batches() const {
    return report().shape != Shape::kDraft2025 && report().shape != Shape::kDraftAsync;
  }
  // True for the async shape: an instance runs many calls at once (Start).
  bool concurrent() const { return report().shape == Shape::kDraftAsync; }
  // Makes a fresh instance. Thread-safe.
  virtual Result<std::unique_ptr<GuestInstance>> Instantiate(
      std::shared_ptr<const GuestServices> services) = 0;
};

// Reads a component's imports and exports without running it.
Result<ComponentReport> InspectComponent(Engine& engine, const std::filesystem::path& path);

}  // namespace ferry::wasm
