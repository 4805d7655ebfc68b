// Components of wasi:messaging@0.1.0 and its 2024 twin: the host calls the
// exported messaging-guest.configure once to learn the channels, then
// messaging-guest.handler with batches of messages.
#include <spdlog/spdlog.h>

#include "wasm/bindings.h"
#include "wasm/component_loader.h"
#include "wasm/instance_base.h"
#include "wasm/operations.h"
#include "wasm/v010_records.h"

namespace ferry::wasm {
namespace {

struct GuestExports {
  wc::ExportIndex configure;
  wc::ExportIndex handler;
};

class V010Instance final : public InstanceBase {
 public:
  V010Instance(Engine::Impl& engine, std::shared_ptr<const GuestServices> services)
      : InstanceBase(engine, std::move(services)) {}

  Status Init(wc::Linker& linker, const wc::Component& component, const GuestExports& exports) {
    FERRY_RETURN_IF_ERROR(Instantiate(linker, component));
    auto configure = ExportedFunc(exports.configure, "configure");
    if (!configure.ok()) return configure.error();
    auto handler = ExportedFunc(exports.handler, "handler");
    if (!handler.ok()) return handler.error();
    configure_ = *configure;
    handler_ = *handler;
    return Status::Ok();
  }

  Result<std::optional<GuestConfiguration>> Configure() override {
    std::array<wc::Val, 1> results{wc::Val(false)};
    FERRY_RETURN_IF_ERROR(Call(*configure_, {}, results, "configure"));
    if (!results[0].is_result()) return Error::Internal("configure returned an unexpected value");
    const wc::WitResult& r = results[0].get_result();
    if (!r.is_ok()) return GuestError(r, "configure");
    if (!r.payload()) return Error::Internal("configure returned no configuration");
    auto gc = RecordToConfiguration(*r.payload());
    if (!gc.ok()) return gc.error();
    return std::optional<GuestConfiguration>(std::move(gc).value());
  }

  CallOutcome Handle(std::span<const Inbound> batch) override {
    HostState& st = state();
    st.call.clear();
    std::vector<wc::Val> records;
    records.reserve(batch.size());
    for (const Inbound& in : batch) {
      CallDelivery d{NewDeliveryTag()};
      records.push_back(MessageToRecord(*in.message, d.tag));
      st.call.push_back(std::move(d));
    }
    std::array<wc::Val, 1> args{wc::Val(wc::List(std::move(records)))};
    std::array<wc::Val, 1> results{wc::Val(false)};
    CallOutcome out;
    out.status = Call(*handler_, args, results, "handler");
    if (out.status.ok()) {
      if (!results[0].is_result())
        out.status = Error::Internal("handler returned an unexpected value");
      else if (!results[0].get_result().is_ok())
        out.status = GuestError(results[0].get_result(), "handler");
    }
    // The batch's entries come first; pulled messages were added after them.
    out.verdicts.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) out.verdicts.push_back(st.call[i].verdict);
    st.call.clear();
    return out;
  }

 private:
  // The text behind the error resource a guest returned.
  Error GuestError(const wc::WitResult& r, std::string_view what) {
    std::string text;
    if (const wc::Val* payload = r.payload()) {
      auto rep = ResourceRep(cx(), *payload, kErrorType);
      if (rep.ok()) {
        if (auto taken = state().errors.Take(*rep)) text = std::move(*taken);
      }
    }
    return Error::Guest(std::string(what) + " returned an error" +
                        (text.empty() ? "" : ": " + text));
  }

  std::optional<wc::Func> configure_;
  std::optional<wc::Func> handler_;
};

class V010Component final : public CompiledComponent {
 public:
  V010Component(Engine::Impl& engine, wc::Component component, ComponentReport report,
                wc::Linker linker, GuestExports exports)
      : engine_(engine),
        component_(std::move(component)),
        report_(std::move(report)),
        linker_(std::move(linker)),
        exports_(std::move(exports)) {}

  const ComponentReport& report() const override { return report_; }

  Result<std::unique_ptr<GuestInstance>> Instantiate(
      std::shared_ptr<const GuestServices> services) override {
    auto instance = std::make_unique<V010Instance>(engine_, std::move(services));
    FERRY_RETURN_IF_ERROR(instance->Init(linker_, component_, exports_));
    return std::unique_ptr<GuestInstance>(std::move(instance));
  }

 private:
  Engine::Impl& engine_;
  wc::Component component_;
  ComponentReport report_;
  wc::Linker linker_;
  GuestExports exports_;
};

}  // namespace

Result<std::shared_ptr<CompiledComponent>> MakeV010Component(Engine::Impl& engine,
                                                             const std::filesystem::path& path,
                                                             wc::Component component,
                                                             ComponentReport report,
                                                             std::string_view version) {
  wc::Linker linker(engine.engine);
  auto wasi = linker.add_wasip2();
  if (!wasi) return FromWasmtime(wasi.err(), "linking WASI");
  FERRY_RETURN_IF_ERROR(AddV010(linker, version));

  const std::string guest = "wasi:messaging/messaging-guest@" + std::string(version);
  auto iface = component.export_index(nullptr, guest);
  if (!iface) return Error::InvalidArgument(path.string() + " does not export " + guest);
  auto configure = component.export_index(&*iface, "configure");
  auto handler = component.export_index(&*iface, "handler");
  if (!configure || !handler)
    return Error::InvalidArgument(path.string() + " exports " + guest +
                                  " without configure and handler functions");
  auto compiled = std::make_shared<V010Component>(
      engine, std::move(component), std::move(report), std::move(linker),
      GuestExports{std::move(*configure), std::move(*handler)});
  return std::shared_ptr<CompiledComponent>(std::move(compiled));
}

}  // namespace ferry::wasm
