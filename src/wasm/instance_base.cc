#include "wasm/instance_base.h"

#include "wasm/guest_output.h"

namespace ferry::wasm {

InstanceBase::InstanceBase(Engine::Impl& engine, std::shared_ptr<const GuestServices> services)
    : engine_(engine), store_(engine.engine) {
  state_.services = std::move(services);
  store_.context().set_data(&state_);
  // A guest that allocates without bound gets failed allocations (and
  // usually traps): only its own call fails.
  store_.limiter(static_cast<std::int64_t>(state_.services->max_memory_bytes), -1, -1, -1, -1);
}

Status InstanceBase::Instantiate(wc::Linker& linker, const wc::Component& component) {
  auto context = cx();
  wasmtime::WasiConfig wasi;
  RouteGuestOutput(wasi, state_.services->component_name);
  auto set = context.set_wasi(std::move(wasi));
  if (!set) return FromWasmtime(set.err(), "setting up WASI");
  // Start-up code runs under the same limit as a handler call.
  const auto tick = engine_.options.epoch_tick.count();
  const auto limit = state_.services->handler_timeout.count();
  context.set_epoch_deadline(static_cast<std::uint64_t>((limit + tick - 1) / tick));
  if (state_.services->fuel_per_call > 0) (void)context.set_fuel(state_.services->fuel_per_call);
  auto instance = linker.instantiate(context, component);
  if (!instance) return FromWasmtime(instance.err(), "instantiating");
  instance_ = std::move(instance).unwrap();
  return Status::Ok();
}

Result<wc::Func> InstanceBase::ExportedFunc(const wc::ExportIndex& index, std::string_view what) {
  auto func = instance_->get_func(cx(), index);
  if (!func) return Error::InvalidArgument("the component has no " + std::string(what) + " function");
  return *func;
}

Status InstanceBase::Call(wc::Func& func, std::span<const wc::Val> args, std::span<wc::Val> results,
                          std::string_view what) {
  if (poisoned_) return Error::FailedPrecondition("instance is unusable after a trap");
  auto context = cx();
  const auto tick = engine_.options.epoch_tick.count();
  const auto limit = state_.services->handler_timeout;
  context.set_epoch_deadline(static_cast<std::uint64_t>((limit.count() + tick - 1) / tick));
  state_.call_deadline = Clock::now() + limit;
  if (state_.services->fuel_per_call > 0) {
    auto fueled = context.set_fuel(state_.services->fuel_per_call);
    if (!fueled) return FromWasmtime(fueled.err(), "setting fuel");
  }
  auto called = func.call(context, wasmtime::Span<const wc::Val>(args.data(), args.size()),
                          wasmtime::Span<wc::Val>(results.data(), results.size()));
  if (!called) {
    poisoned_ = true;
    return FromWasmtime(called.err(), what);
  }
  auto post = func.post_return(context);
  if (!post) {
    poisoned_ = true;
    return FromWasmtime(post.err(), what);
  }
  return Status::Ok();
}

}  // namespace ferry::wasm
