// The WebAssembly engine: one per host, shared by every component and
// worker thread. Compiles components once and keeps the machine code on disk
// so the next start of the same component skips compilation.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <thread>

#include "ferry/result.h"

struct fe_engine;

namespace ferry::wasm {

struct EngineOptions {
  std::filesystem::path cache_dir;  // empty: no on-disk cache
  // Compiled code kept in cache_dir; past it, entries used least recently
  // are removed (0: no limit).
  std::uint64_t cache_max_bytes = 1ull << 30;
  // How often the engine's epoch advances; invocation deadlines are counted
  // in these ticks.
  std::chrono::milliseconds epoch_tick{10};
  // Meter guest instructions with fuel (stores then get a budget per call).
  bool consume_fuel = false;
  // Instance slots of the pooling allocator, which makes a fresh instance
  // cost microseconds (0: instances allocate on demand).
  std::uint32_t pooled_instances = 0;
  // The largest linear memory any instance may have (sizes the pool's slots).
  std::uint64_t max_memory_bytes = 256u << 20;
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
  // The same for a component's bytes in memory; `name` stands for the file
  // in errors and logs.
  Result<std::shared_ptr<CompiledComponent>> LoadComponent(const std::filesystem::path& name,
                                                           std::span<const std::uint8_t> bytes);

  const EngineOptions& options() const { return options_; }
  std::chrono::milliseconds epoch_tick() const { return options_.epoch_tick; }
  const fe_engine* raw() const { return engine_; }

 private:
  Engine(fe_engine* engine, EngineOptions options);

  fe_engine* engine_;
  EngineOptions options_;
  std::thread ticker_;  // advances the epoch every options_.epoch_tick
  std::mutex ticker_mutex_;
  std::condition_variable ticker_cv_;
  bool stopping_ = false;
};

}  // namespace ferry::wasm
