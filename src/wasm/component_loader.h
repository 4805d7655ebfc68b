// Turning a component file into a compiled, linked component: file checks,
// the on-disk compilation cache, shape detection and import checks.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "wasm/engine.h"
#include "wasm/engine_abi.h"
#include "wasm/guest.h"

namespace ferry::wasm {

// Reads `path`, rejecting files that are not components with a clear error.
Result<std::vector<std::uint8_t>> ReadComponentFile(const std::filesystem::path& path);

// Compiles `bytes`, or loads the machine code cached from an earlier run.
Result<ComponentPtr> CompileCached(const Engine& engine, const std::filesystem::path& path,
                                   std::span<const std::uint8_t> bytes);

// Lists imports and exports and tells which interface shape they form.
Result<ComponentReport> Describe(const std::filesystem::path& path, const fe_component& component);

// Rejects bytes that are not a component, with a clear error naming `path`.
Status CheckComponentBytes(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);

Result<std::shared_ptr<CompiledComponent>> LoadCompiledComponent(const Engine& engine,
                                                                 const std::filesystem::path& path);
// The same for a component in memory; `path` only names it in errors and logs.
Result<std::shared_ptr<CompiledComponent>> LoadCompiledComponent(const Engine& engine,
                                                                 const std::filesystem::path& path,
                                                                 std::span<const std::uint8_t> bytes);

// A component linked for its shape; instances of it are cheap.
Result<std::shared_ptr<CompiledComponent>> MakeCompiledComponent(const Engine& engine,
                                                                 const std::filesystem::path& path,
                                                                 ComponentPtr component,
                                                                 ComponentReport report);

}  // namespace ferry::wasm
