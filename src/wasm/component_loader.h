// Turning a component file into a compiled, linked component: file checks,
// the on-disk compilation cache, shape detection and import checks.
#pragma once

#include <filesystem>
#include <memory>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include "wasm/engine_impl.h"
#include "wasm/guest.h"

namespace ferry::wasm {

// Reads `path`, rejecting files that are not components with a clear error.
Result<std::vector<std::uint8_t>> ReadComponentFile(const std::filesystem::path& path);

// Compiles `bytes`, or loads the machine code cached from an earlier run.
Result<wasmtime::component::Component> CompileCached(Engine::Impl& engine,
                                                     const std::filesystem::path& path,
                                                     std::span<const std::uint8_t> bytes);

// Lists imports and exports and tells which interface shape they form.
Result<ComponentReport> Describe(Engine::Impl& engine, const std::filesystem::path& path,
                                 const wasmtime::component::Component& component);

Result<std::shared_ptr<CompiledComponent>> LoadCompiledComponent(
    Engine::Impl& engine, const std::filesystem::path& path);

// One constructor per shape.
Result<std::shared_ptr<CompiledComponent>> MakeDraft2025Component(
    Engine::Impl& engine, const std::filesystem::path& path,
    wasmtime::component::Component component, ComponentReport report);
// 0.1.0 and the 2024 draft differ only in `version` ("0.1.0", "0.2.0-draft").
Result<std::shared_ptr<CompiledComponent>> MakeV010Component(
    Engine::Impl& engine, const std::filesystem::path& path,
    wasmtime::component::Component component, ComponentReport report, std::string_view version);

}  // namespace ferry::wasm
