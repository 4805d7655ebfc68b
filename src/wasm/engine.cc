#include "wasm/engine.h"

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "wasm/component_loader.h"
#include "wasm/engine_impl.h"
#include "wasm/glue.h"

namespace ferry::wasm {

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->ticker_mutex);
    impl_->stopping = true;
  }
  impl_->ticker_cv.notify_all();
  if (impl_->ticker.joinable()) impl_->ticker.join();
}

Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  wasmtime::Config config;
  // Invocation deadlines: a guest in an endless loop is stopped when the
  // engine's epoch passes its store's deadline.
  config.epoch_interruption(true);
  config.parallel_compilation(true);
  if (options.consume_fuel) config.consume_fuel(true);
  auto impl = std::make_unique<Impl>(wasmtime::Engine(std::move(config)), options);
  Impl* raw = impl.get();
  impl->ticker = std::thread([raw] {
    std::unique_lock lock(raw->ticker_mutex);
    while (!raw->ticker_cv.wait_for(lock, raw->options.epoch_tick, [raw] { return raw->stopping; }))
      raw->engine.increment_epoch();
  });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

std::chrono::milliseconds Engine::epoch_tick() const { return impl_->options.epoch_tick; }

Result<std::shared_ptr<CompiledComponent>> Engine::LoadComponent(const std::filesystem::path& path) {
  return LoadCompiledComponent(*impl_, path);
}

}  // namespace ferry::wasm
