// Compiled components and their instances on the engine: one implementation
// for every shape, since the engine's bindings hide how each shape's calls
// look. Payloads go in as shared buffers; the engine copies them once into
// guest memory.
#include <spdlog/spdlog.h>

#include "wasm/async_instance.h"
#include "wasm/component_loader.h"
#include "wasm/engine_abi.h"
#include "wasm/host_state.h"

namespace ferry::wasm {
namespace {

fe_shape ToFe(Shape shape) {
  switch (shape) {
    case Shape::kDraft2025: return FE_SHAPE_DRAFT2025;
    case Shape::kV010: return FE_SHAPE_V010;
    case Shape::kDraft2024: return FE_SHAPE_DRAFT2024;
    case Shape::kDraftAsync: return FE_SHAPE_DRAFT_ASYNC;
  }
  return FE_SHAPE_DRAFT2025;
}

CallFailure FailureOf(fe_outcome outcome) {
  switch (outcome) {
    case FE_OUTCOME_OK: return CallFailure::kNone;
    case FE_OUTCOME_GUEST_ERROR: return CallFailure::kError;
    case FE_OUTCOME_TRAP: return CallFailure::kTrap;
    case FE_OUTCOME_TIMEOUT: return CallFailure::kTimeout;
    case FE_OUTCOME_FUEL: return CallFailure::kFuel;
    case FE_OUTCOME_MEMORY: return CallFailure::kMemory;
    case FE_OUTCOME_CANCELLED: return CallFailure::kCancelled;
  }
  return CallFailure::kTrap;
}

class EngineInstance final : public GuestInstance {
 public:
  EngineInstance(const Engine& engine, std::unique_ptr<HostState> state)
      : engine_(engine), state_(std::move(state)) {}

  Status Init(const fe_pre* pre) {
    const InstanceTerms terms(*state_->services);
    fe_outcome outcome = FE_OUTCOME_TRAP;
    EngineText err;
    instance_.reset(fe_instance_new(pre, &terms.limits, &terms.grants, &HostCalls(), state_.get(),
                                    Budget(Clock::now()), &outcome, err.out()));
    if (!instance_) return Failure("instantiating", outcome, err.str()).status;
    return Status::Ok();
  }

  Result<std::optional<GuestConfiguration>> Configure() override {
    if (!configurable_) return std::optional<GuestConfiguration>();
    GuestConfiguration gc;
    const fe_outcome outcome = fe_instance_configure(
        instance_.get(), Budget(Clock::now()), &gc,
        [](void* ctx, const fe_str* channels, std::size_t n, const fe_pair* ext, std::size_t m) {
          auto* out = static_cast<GuestConfiguration*>(ctx);
          for (std::size_t i = 0; i < n; ++i) out->channels.emplace_back(FromFe(channels[i]));
          for (std::size_t i = 0; i < m; ++i)
            out->extensions.emplace_back(std::string(FromFe(ext[i].key)), std::string(FromFe(ext[i].value)));
        });
    if (outcome != FE_OUTCOME_OK) return Failure("configure", outcome, LastError()).status.error();
    return std::optional<GuestConfiguration>(std::move(gc));
  }

  CallOutcome Handle(std::span<const Inbound> batch, Deadline started) override {
    return configurable_ ? HandleBatch(batch, started) : HandleEach(batch, started);
  }

  bool poisoned() const override { return fe_instance_poisoned(instance_.get()); }

  void TrackSends(std::shared_ptr<PendingSends> sends) override { state_->sends = std::move(sends); }

  void set_configurable(bool c) { configurable_ = c; }

 private:
  // The 2025 handler takes one message: a batch is handled in order,
  // stopping at the first failure (the rest stay unsettled and fail with it).
  CallOutcome HandleEach(std::span<const Inbound> batch, Deadline started) {
    CallOutcome out{Status::Ok(), CallFailure::kNone, std::vector<Verdict>(batch.size(), Verdict::kNone)};
    for (std::size_t i = 0; i < batch.size(); ++i) {
      MessageView view(*batch[i].message, batch[i].origin);
      // Each message of the batch gets the whole handler_timeout.
      const fe_budget budget = Budget(i == 0 ? started : Clock::now());
      const fe_outcome outcome = fe_instance_handle(instance_.get(), view.get(), budget);
      if (outcome != FE_OUTCOME_OK) {
        CallOutcome failed = Failure("handle", outcome, LastError());
        out.status = std::move(failed.status);
        out.failure = failed.failure;
        break;
      }
      out.verdicts[i] = Verdict::kComplete;
    }
    return out;
  }

  CallOutcome HandleBatch(std::span<const Inbound> batch, Deadline started) {
    std::vector<MessageView> views;
    views.reserve(batch.size());
    for (const Inbound& in : batch) views.emplace_back(*in.message, in.origin);
    std::vector<fe_message> messages;
    messages.reserve(views.size());
    for (const MessageView& v : views) messages.push_back(*v.get());
    std::vector<std::uint8_t> verdicts(batch.size(), FE_VERDICT_NONE);
    const fe_outcome outcome = fe_instance_handler(instance_.get(), messages.data(), messages.size(),
                                                   Budget(started), verdicts.data());
    CallOutcome out = outcome == FE_OUTCOME_OK ? CallOutcome{}
                                               : Failure("handler", outcome, LastError());
    out.verdicts.reserve(batch.size());
    for (std::uint8_t v : verdicts)
      out.verdicts.push_back(v == FE_VERDICT_COMPLETE  ? Verdict::kComplete
                             : v == FE_VERDICT_ABANDON ? Verdict::kAbandon
                                                       : Verdict::kNone);
    return out;
  }

  // The bounds of a call starting at `now`; the host's waits inside it
  // honour the same deadline.
  fe_budget Budget(Deadline now) {
    state_->call_deadline = now + state_->services->handler_timeout;
    return CallBudget(engine_.epoch_tick(), *state_->services, state_->call_deadline);
  }

  std::string LastError() const { return std::string(FromFe(fe_instance_last_error(instance_.get()))); }

  CallOutcome Failure(std::string_view what, fe_outcome outcome, const std::string& text) const {
    const auto& s = *state_->services;
    std::string message;
    switch (outcome) {
      case FE_OUTCOME_GUEST_ERROR: message = text; break;
      case FE_OUTCOME_TIMEOUT:
        message = std::string(what) + ": interrupted after handler_timeout_ms (" +
                  std::to_string(s.handler_timeout.count()) + " ms)";
        break;
      case FE_OUTCOME_FUEL:
        message = std::string(what) + ": used up fuel_per_call (" + std::to_string(s.fuel_per_call) + ")";
        break;
      default: message = std::string(what) + ": " + text; break;
    }
    return {Error::Guest(std::move(message)), FailureOf(outcome), {}};
  }

  const Engine& engine_;
  std::unique_ptr<HostState> state_;  // the engine holds its address
  InstancePtr instance_;
  bool configurable_ = false;
};

class EngineComponent final : public CompiledComponent {
 public:
  EngineComponent(const Engine& engine, ComponentPtr component, PrePtr pre, ComponentReport report)
      : engine_(engine), component_(std::move(component)), pre_(std::move(pre)), report_(std::move(report)) {}

  const ComponentReport& report() const override { return report_; }

  Result<std::unique_ptr<GuestInstance>> Instantiate(
      std::shared_ptr<const GuestServices> services) override {
    if (concurrent()) return MakeAsyncInstance(engine_, *pre_, std::move(services));
    auto instance = std::make_unique<EngineInstance>(engine_, std::make_unique<HostState>(std::move(services)));
    instance->set_configurable(takes_batches());
    FERRY_RETURN_IF_ERROR(instance->Init(pre_.get()));
    return std::unique_ptr<GuestInstance>(std::move(instance));
  }

 private:
  const Engine& engine_;
  ComponentPtr component_;
  PrePtr pre_;  // shared by all workers: instantiation is thread-safe
  ComponentReport report_;
};

}  // namespace

Result<std::shared_ptr<CompiledComponent>> MakeCompiledComponent(const Engine& engine,
                                                                 const std::filesystem::path& path,
                                                                 ComponentPtr component,
                                                                 ComponentReport report) {
  EngineText err;
  PrePtr pre(fe_pre_new(component.get(), ToFe(report.shape), err.out()));
  if (!pre) return Error::InvalidArgument(path.string() + ": cannot link it: " + err.str());
  return std::shared_ptr<CompiledComponent>(
      std::make_shared<EngineComponent>(engine, std::move(component), std::move(pre), std::move(report)));
}

}  // namespace ferry::wasm
