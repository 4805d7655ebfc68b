// Components of wasi:messaging@0.2.0-draft (2025): the host calls the
// exported incoming-handler.handle once per message.
#include <spdlog/spdlog.h>

#include "wasm/bindings.h"
#include "wasm/component_loader.h"
#include "wasm/glue.h"
#include "wasm/guest_output.h"

namespace ferry::wasm {
namespace {

constexpr std::string_view kHandlerInterface = "wasi:messaging/incoming-handler@0.2.0-draft";

class Draft2025Instance final : public GuestInstance {
 public:
  Draft2025Instance(Engine::Impl& engine, std::shared_ptr<const GuestServices> services)
      : engine_(engine), store_(engine.engine) {
    state_.services = std::move(services);
    store_.context().set_data(&state_);
  }

  Status Init(wc::Linker& linker, const wc::Component& component,
              const wc::ExportIndex& handle_index) {
    auto cx = store_.context();
    wasmtime::WasiConfig wasi;
    RouteGuestOutput(wasi, state_.services->component_name);
    auto set = cx.set_wasi(std::move(wasi));
    if (!set) return FromWasmtime(set.err(), "setting up WASI");
    SetDeadline();
    auto instance = linker.instantiate(cx, component);
    if (!instance) return FromWasmtime(instance.err(), "instantiating");
    instance_ = std::move(instance).unwrap();
    auto func = instance_->get_func(cx, handle_index);
    if (!func) return Error::InvalidArgument("the component has no handle function");
    handle_ = *func;
    return Status::Ok();
  }

  Status Handle(const Message& message, Broker* origin) override {
    if (poisoned_) return Error::FailedPrecondition("instance is unusable after a trap");
    auto cx = store_.context();
    const std::uint32_t rep = state_.messages.Insert({message, origin});
    auto arg = OwnedResource(cx, rep, kMessageType);
    if (!arg.ok()) return arg.error();
    SetDeadline();
    std::array<wc::Val, 1> args{std::move(arg).value()};
    std::array<wc::Val, 1> results{wc::Val(false)};
    auto called = handle_->call(cx, args, results);
    if (!called) {
      poisoned_ = true;
      return FromWasmtime(called.err(), "handle");
    }
    auto post = handle_->post_return(cx);
    if (!post) {
      poisoned_ = true;
      return FromWasmtime(post.err(), "handle");
    }
    return GuestResult(results[0]);
  }

  bool poisoned() const override { return poisoned_; }

 private:
  void SetDeadline() {
    const auto tick = engine_.options.epoch_tick.count();
    const auto limit = state_.services->handler_timeout.count();
    store_.context().set_epoch_deadline(static_cast<std::uint64_t>((limit + tick - 1) / tick));
  }

  // result<_, error> → Status. The error variant keeps its case in the text.
  static Status GuestResult(const wc::Val& result) {
    if (!result.is_result()) return Error::Internal("handle returned an unexpected value");
    const wc::WitResult& r = result.get_result();
    if (r.is_ok()) return Status::Ok();
    const wc::Val* payload = r.payload();
    if (!payload || !payload->is_variant()) return Error::Guest("handler returned an error");
    const wc::Variant& v = payload->get_variant();
    std::string text = "handler returned error " + std::string(v.discriminant());
    if (v.value() && v.value()->is_string())
      text += ": " + std::string(v.value()->get_string());
    return Error::Guest(std::move(text));
  }

  Engine::Impl& engine_;
  HostState state_;
  wasmtime::Store store_;
  std::optional<wc::Instance> instance_;
  std::optional<wc::Func> handle_;
  bool poisoned_ = false;
};

class Draft2025Component final : public CompiledComponent {
 public:
  Draft2025Component(Engine::Impl& engine, wc::Component component, ComponentReport report,
                     wc::Linker linker, wc::ExportIndex handle_index)
      : engine_(engine),
        component_(std::move(component)),
        report_(std::move(report)),
        linker_(std::move(linker)),
        handle_index_(std::move(handle_index)) {}

  const ComponentReport& report() const override { return report_; }

  Result<std::unique_ptr<GuestInstance>> Instantiate(
      std::shared_ptr<const GuestServices> services) override {
    auto instance = std::make_unique<Draft2025Instance>(engine_, std::move(services));
    FERRY_RETURN_IF_ERROR(instance->Init(linker_, component_, handle_index_));
    return std::unique_ptr<GuestInstance>(std::move(instance));
  }

 private:
  Engine::Impl& engine_;
  wc::Component component_;
  ComponentReport report_;
  wc::Linker linker_;  // shared by all workers; wasmtime allows concurrent instantiation
  wc::ExportIndex handle_index_;
};

}  // namespace

Result<std::shared_ptr<CompiledComponent>> MakeDraft2025Component(
    Engine::Impl& engine, const std::filesystem::path& path, wc::Component component,
    ComponentReport report) {
  wc::Linker linker(engine.engine);
  auto wasi = linker.add_wasip2();
  if (!wasi) return FromWasmtime(wasi.err(), "linking WASI");
  FERRY_RETURN_IF_ERROR(AddDraft2025(linker));

  auto iface = component.export_index(nullptr, kHandlerInterface);
  if (!iface) return Error::InvalidArgument(path.string() + " does not export " + std::string(kHandlerInterface));
  auto handle = component.export_index(&*iface, "handle");
  if (!handle)
    return Error::InvalidArgument(path.string() + " exports " + std::string(kHandlerInterface) +
                                  " without a handle function");
  auto compiled = std::make_shared<Draft2025Component>(engine, std::move(component), std::move(report),
                                                       std::move(linker), std::move(*handle));
  return std::shared_ptr<CompiledComponent>(std::move(compiled));
}

}  // namespace ferry::wasm
