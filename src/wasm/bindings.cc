#include "wasm/bindings.h"

namespace ferry::wasm {

Status Define(wc::LinkerInstance& instance, std::string_view name, HostFn fn) {
  auto added = instance.add_func(
      name, [fn](wasmtime::Store::Context cx, const wc::FuncType&, wasmtime::Span<wc::Val> args,
                 wasmtime::Span<wc::Val> results) -> wasmtime::Result<std::monostate> {
        Status status = fn(StateOf(cx), cx, args, results);
        if (!status.ok()) return ToWasmtime(status.error());
        return std::monostate();
      });
  if (!added) return FromWasmtime(added.err(), "defining " + std::string(name));
  return Status::Ok();
}

Status DefineResource(wc::LinkerInstance& instance, std::string_view name, std::uint32_t type,
                      void (*on_drop)(HostState&, std::uint32_t rep)) {
  auto added = instance.add_resource(
      name, wc::ResourceType(type),
      [on_drop](wasmtime::Store::Context cx, std::uint32_t rep) -> wasmtime::Result<std::monostate> {
        on_drop(StateOf(cx), rep);
        return std::monostate();
      });
  if (!added) return FromWasmtime(added.err(), "defining resource " + std::string(name));
  return Status::Ok();
}

Result<std::uint32_t> ResourceRep(wasmtime::Store::Context cx, const wc::Val& val,
                                  std::uint32_t type) {
  if (!val.is_resource()) return Error::Internal("expected a resource argument");
  auto host = val.get_resource().to_host(cx);
  if (!host) return FromWasmtime(host.err(), "resource argument");
  if (host.ok().type() != type) return Error::Internal("resource argument of the wrong type");
  return host.ok().rep();
}

Result<wc::Val> OwnedResource(wasmtime::Store::Context cx, std::uint32_t rep, std::uint32_t type) {
  auto any = wc::ResourceHost(true, rep, type).to_any(cx);
  if (!any) return FromWasmtime(any.err(), "creating a resource");
  return wc::Val(any.ok());
}

}  // namespace ferry::wasm
