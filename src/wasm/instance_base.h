// What every shape's instance shares: a store whose data is the HostState,
// WASI with output routed to the log, the epoch deadline, and calls that
// poison the instance when the guest traps.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include "wasm/engine_impl.h"
#include "wasm/glue.h"
#include "wasm/guest.h"
#include "wasm/host_state.h"

namespace ferry::wasm {

class InstanceBase : public GuestInstance {
 public:
  bool poisoned() const override { return poisoned_; }

 protected:
  InstanceBase(Engine::Impl& engine, std::shared_ptr<const GuestServices> services);

  // Instantiates `component` in a fresh store.
  Status Instantiate(wc::Linker& linker, const wc::Component& component);
  // The exported function at `index`; `what` names it in the error.
  Result<wc::Func> ExportedFunc(const wc::ExportIndex& index, std::string_view what);
  // Calls `func` under the invocation deadline. A trap or a timeout poisons
  // the instance and comes back as an error naming `what`.
  Status Call(wc::Func& func, std::span<const wc::Val> args, std::span<wc::Val> results,
              std::string_view what);

  wasmtime::Store::Context cx() { return store_.context(); }
  HostState& state() { return state_; }

 private:
  Engine::Impl& engine_;
  HostState state_;
  wasmtime::Store store_;
  std::optional<wc::Instance> instance_;
  bool poisoned_ = false;
};

}  // namespace ferry::wasm
