// The async shape's instances and the engine's async callbacks. A guest's
// send, request or reply arrives on the instance's thread and is converted
// there (the message data taken, strings copied); a send is published from
// there without waiting for its confirmation, a request or reply runs on a
// BlockingCalls thread. The guest task waits for fe_pending_done while the
// instance runs its other calls.
#include "wasm/async_instance.h"

#include <condition_variable>
#include <future>
#include <mutex>

#include "core/trace_context.h"
#include "wasm/blocking_calls.h"
#include "wasm/host_state.h"
#include "wasm/operations.h"

namespace ferry::wasm {
namespace {

using AsyncInstancePtr =
    std::unique_ptr<fe_async_instance, EngineDeleter<fe_async_instance, fe_async_instance_free>>;

// Broker operations an instance started that have not finished: the
// instance waits for them when destroyed, so none outlives the runner
// (and the brokers) it belongs to. Each is bounded by handler_timeout, and
// requests end early once the instance's stop is requested.
class OpsInFlight {
 public:
  void Add() {
    std::lock_guard lock(mutex_);
    ++count_;
  }
  void Remove() {
    std::lock_guard lock(mutex_);
    if (--count_ == 0) cv_.notify_all();
  }
  void WaitNone() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return count_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t count_ = 0;
};

// What the engine's callbacks get as `host` for an async instance.
struct AsyncHost : HostState {
  using HostState::HostState;
  std::shared_ptr<OpsInFlight> ops = std::make_shared<OpsInFlight>();
  std::stop_source stopping;  // requested as the instance is destroyed
};

AsyncHost& AsyncOf(void* host) { return static_cast<AsyncHost&>(*static_cast<HostState*>(host)); }

void Finish(fe_pending* done, const Status& s) {
  if (s.ok()) {
    fe_pending_done(done, true, FE_ERROR_OTHER, fe_str{}, fe_str{});
    return;
  }
  const GuestError g = ToGuestError(s.error());
  fe_pending_done(done, false, g.kind, ToFe(g.message), ToFe(g.full));
}

struct PendingCall {
  std::shared_ptr<const GuestServices> services;
  const TraceSpan* span;  // the runner's, alive until `done` has run
  GuestInstance::CallDone done;
};

// The span of the call an operation belongs to (null: none, or not traced).
const TraceSpan* SpanOf(void* call) {
  return call ? static_cast<const PendingCall*>(call)->span : nullptr;
}

// Runs `op` (given a HostState whose call deadline is handler_timeout from
// now, and the span of the call that started it) on a pool thread. The span
// is copied: the operation may outlive the call.
template <typename Op>
void RunOp(AsyncHost& host, void* call, Op op) {
  host.ops->Add();
  const TraceSpan* span = SpanOf(call);
  BlockingCalls::Shared().Run([services = host.services, ops = host.ops, stop = host.stopping.get_token(),
                               span = span ? std::optional<TraceSpan>(*span) : std::nullopt,
                               op = std::move(op)]() mutable {
    HostState state(services);
    state.call_deadline = Clock::now() + services->handler_timeout;
    state.stop = stop;
    current_span = span ? &*span : nullptr;
    op(state);
    current_span = nullptr;
    ops->Remove();
  });
}

// Instance thread. A send goes through the broker's PublishAsync from here:
// adapters with a window of unconfirmed publishes (MQTT, Redis, ...) return
// at once and confirm later, from their own threads; the embedded broker
// and core NATS publish inline (a buffered write), waiting only while the
// broker holds publishers back, within the call's deadline. The guest task
// waits for the confirmation; the instance runs its other calls.
void Send(void* host, void* call, void* client, fe_str topic, const fe_message* messages,
          std::size_t count, fe_pending* done) {
  AsyncHost& state = AsyncOf(host);
  state.call_deadline = Clock::now() + state.services->handler_timeout;
  auto sends = PendingSends::Make();
  state.sends = sends;
  current_span = SpanOf(call);
  const Status sent = WithMessages(messages, count, [&](std::span<Message> taken) {
    return SendMessages(state, *static_cast<Broker*>(client), FromFe(topic), taken);
  });
  current_span = nullptr;
  state.sends = nullptr;
  if (!sent.ok()) {
    (void)sends->Seal([](Status) {});  // what went out before it is not waited for
    return Finish(done, sent);
  }
  if (auto outcome = sends->Seal([done](Status s) { Finish(done, s); })) Finish(done, *outcome);
}

// Instance thread.
void Request(void* host, void* call, void* client, fe_str topic, const fe_message* message,
             const std::uint32_t* timeout_ms, const std::uint32_t* expected, fe_pending* done) {
  RunOp(AsyncOf(host), call, [broker = static_cast<Broker*>(client), topic = std::string(FromFe(topic)),
                        request = TakeMessage(*message),
                        timeout = timeout_ms ? std::optional(*timeout_ms) : std::nullopt,
                        expected = expected ? std::optional(*expected) : std::nullopt,
                        done](HostState& state) mutable {
    auto got = RequestMessages(state, *broker, topic, std::move(request), timeout, expected);
    if (!got.ok()) return Finish(done, got.error());
    for (const Message& reply : *got) {
      MessageView view(reply, broker);  // replies to a reply go back the same way
      fe_pending_push(done, view.get());
    }
    Finish(done, Status::Ok());
  });
}

// Instance thread.
void Reply(void* host, void* call, void* origin, fe_str reply_to, const fe_message* reply,
           fe_pending* done) {
  RunOp(AsyncOf(host), call, [origin = static_cast<Broker*>(origin), reply_to = std::string(FromFe(reply_to)),
                        reply = TakeMessage(*reply), done](HostState& state) mutable {
    Finish(done, ReplyTo(state, origin, reply_to, std::move(reply)));
  });
}

constexpr fe_async_host_vtable kAsyncCalls{Send, Request, Reply};

CallFailure FailureOf(fe_outcome outcome) {
  switch (outcome) {
    case FE_OUTCOME_OK: return CallFailure::kNone;
    case FE_OUTCOME_GUEST_ERROR: return CallFailure::kError;
    case FE_OUTCOME_TIMEOUT: return CallFailure::kTimeout;
    case FE_OUTCOME_FUEL: return CallFailure::kFuel;
    case FE_OUTCOME_MEMORY: return CallFailure::kMemory;
    case FE_OUTCOME_CANCELLED: return CallFailure::kCancelled;
    case FE_OUTCOME_TRAP: break;
  }
  return CallFailure::kTrap;
}

CallOutcome Outcome(const GuestServices& s, fe_outcome outcome, std::string_view text) {
  if (outcome == FE_OUTCOME_OK) return {Status::Ok(), CallFailure::kNone, {Verdict::kComplete}};
  std::string message;
  switch (outcome) {
    case FE_OUTCOME_GUEST_ERROR: message = std::string(text); break;
    case FE_OUTCOME_CANCELLED: message = "handle: " + std::string(text); break;
    case FE_OUTCOME_TIMEOUT:
      message = "handle: interrupted after handler_timeout_ms (" + std::to_string(s.handler_timeout.count()) +
                " ms): " + std::string(text);
      break;
    case FE_OUTCOME_FUEL:
      message = "handle: used up fuel (" + std::to_string(s.fuel_per_call) +
                " per call in flight on the instance)";
      break;
    default: message = "handle: " + std::string(text); break;
  }
  Error error = outcome == FE_OUTCOME_CANCELLED ? Error::Cancelled(std::move(message))
                                                : Error::Guest(std::move(message));
  return {std::move(error), FailureOf(outcome), {Verdict::kNone}};
}

// The instance's thread (or the caller's, for a poisoned instance).
void CallEnded(void* ctx, fe_outcome outcome, fe_str text) {
  std::unique_ptr<PendingCall> call(static_cast<PendingCall*>(ctx));
  call->done(Outcome(*call->services, outcome, FromFe(text)));
}

class AsyncEngineInstance final : public GuestInstance {
 public:
  AsyncEngineInstance(const Engine& engine, std::unique_ptr<AsyncHost> host)
      : engine_(engine), host_(std::move(host)) {}

  ~AsyncEngineInstance() override {
    instance_.reset();  // calls in flight end as cancelled
    // Nobody waits for the replies any more.
    host_->stopping.request_stop();
    host_->ops->WaitNone();
  }

  Status Init(const fe_pre& pre) {
    const GuestServices& s = *host_->services;
    const InstanceTerms terms(s);
    fe_outcome outcome = FE_OUTCOME_TRAP;
    EngineText err;
    instance_.reset(fe_async_instance_new(&pre, &terms.limits, &terms.grants, &HostCalls(), &kAsyncCalls,
                                          static_cast<HostState*>(host_.get()), Budget(), &outcome,
                                          err.out()));
    if (!instance_) {
      const std::string text = err.str();
      return Outcome(s, outcome, "instantiating: " + text).status;
    }
    return Status::Ok();
  }

  Result<std::optional<GuestConfiguration>> Configure() override {
    return std::optional<GuestConfiguration>();
  }

  void Start(const Inbound& in, CallDone done) override {
    MessageView view(*in.message, in.origin);
    auto* call = new PendingCall{host_->services, in.span, std::move(done)};
    fe_async_instance_handle(instance_.get(), view.get(), Budget(), CallEnded, call);
  }

  // One at a time, waiting for each: for callers that do not use Start.
  CallOutcome Handle(std::span<const Inbound> batch, Deadline /*started*/) override {
    CallOutcome out{Status::Ok(), CallFailure::kNone, std::vector<Verdict>(batch.size(), Verdict::kNone)};
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::promise<CallOutcome> ended;
      Start(batch[i], [&ended](CallOutcome o) { ended.set_value(std::move(o)); });
      CallOutcome one = ended.get_future().get();
      if (!one.status.ok()) {
        out.status = std::move(one.status);
        out.failure = one.failure;
        break;
      }
      out.verdicts[i] = Verdict::kComplete;
    }
    return out;
  }

  // Sends wait for the broker's confirmation: the guest task waits, no
  // thread does.
  void TrackSends(std::shared_ptr<PendingSends>) override {}

  bool poisoned() const override { return fe_async_instance_poisoned(instance_.get()); }

 private:
  // Each call's deadline counts from when it starts.
  fe_budget Budget() const {
    const GuestServices& s = *host_->services;
    return CallBudget(engine_.epoch_tick(), s, Clock::now() + s.handler_timeout);
  }

  const Engine& engine_;
  std::unique_ptr<AsyncHost> host_;  // the engine holds its address
  AsyncInstancePtr instance_;
};

}  // namespace

Result<std::unique_ptr<GuestInstance>> MakeAsyncInstance(const Engine& engine, const fe_pre& pre,
                                                         std::shared_ptr<const GuestServices> services) {
  auto instance = std::make_unique<AsyncEngineInstance>(engine, std::make_unique<AsyncHost>(std::move(services)));
  FERRY_RETURN_IF_ERROR(instance->Init(pre));
  return std::unique_ptr<GuestInstance>(std::move(instance));
}

}  // namespace ferry::wasm
