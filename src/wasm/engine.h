// The WebAssembly engine: one per process, shared by every component and
// worker thread. Compiles components once and keeps the machine code on disk
// so the next start of the same component skips compilation.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "ferry/result.h"

namespace ferry::wasm {

struct EngineOptions {
  std::filesystem::path cache_dir;  // empty: no on-disk cache
  // How often the engine's epoch advances; invocation deadlines are counted
  // in these ticks.
  std::chrono::milliseconds epoch_tick{10};
  // Meter guest instructions with fuel (stores then get a budget per call).
  bool consume_fuel = false;
};

class CompiledComponent;

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Reads, checks and compiles (or loads from the cache) a component file.
  // Errors say what is wrong with the file in one line.
  Result<std::shared_ptr<CompiledComponent>> LoadComponent(const std::filesystem::path& path);

  std::chrono::milliseconds epoch_tick() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::wasm
