// Components of wasi:messaging@0.2.0-draft (2025): the host calls the
// exported incoming-handler.handle once per message.
#include <spdlog/spdlog.h>

#include "wasm/bindings.h"
#include "wasm/component_loader.h"
#include "wasm/glue.h"
#include "wasm/instance_base.h"

namespace ferry::wasm {
namespace {

constexpr std::string_view kHandlerInterface = "wasi:messaging/incoming-handler@0.2.0-draft";

class Draft2025Instance final : public InstanceBase {
 public:
  Draft2025Instance(Engine::Impl& engine, std::shared_ptr<const GuestServices> services)
      : InstanceBase(engine, std::move(services)) {}

  Status Init(wc::Linker& linker, const wc::Component& component,
              const wc::ExportIndex& handle_index) {
    FERRY_RETURN_IF_ERROR(Instantiate(linker, component));
    auto func = ExportedFunc(handle_index, "handle");
    if (!func.ok()) return func.error();
    handle_ = *func;
    return Status::Ok();
  }

  // This shape has nothing to configure: subscriptions come from ferry.toml.
  Result<std::optional<GuestConfiguration>> Configure() override {
    return std::optional<GuestConfiguration>();
  }

  // The handler takes one message: a batch is handled in order, stopping at
  // the first failure (the rest stay unsettled and fail with it).
  CallOutcome Handle(std::span<const Inbound> batch) override {
    CallOutcome out{Status::Ok(), std::vector<Verdict>(batch.size(), Verdict::kNone)};
    for (std::size_t i = 0; i < batch.size(); ++i) {
      out.status = HandleOne(*batch[i].message, batch[i].origin);
      if (!out.status.ok()) break;
      out.verdicts[i] = Verdict::kComplete;
    }
    return out;
  }

 private:
  Status HandleOne(const Message& message, Broker* origin) {
    const std::uint32_t rep = state().messages.Insert({message, origin});
    auto arg = OwnedResource(cx(), rep, kMessageType);
    if (!arg.ok()) return arg.error();
    std::array<wc::Val, 1> args{std::move(arg).value()};
    std::array<wc::Val, 1> results{wc::Val(false)};
    FERRY_RETURN_IF_ERROR(Call(*handle_, args, results, "handle"));
    return GuestResult(results[0]);
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

  std::optional<wc::Func> handle_;
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
