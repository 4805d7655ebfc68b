#include "wasm/engine.h"

#include "wasm/component_loader.h"
#include "wasm/engine_abi.h"

namespace ferry::wasm {

Engine::Engine(fe_engine* engine, EngineOptions options)
    : engine_(engine), options_(std::move(options)) {
  ticker_ = std::thread([this] {
    std::unique_lock lock(ticker_mutex_);
    while (!ticker_cv_.wait_for(lock, options_.epoch_tick, [this] { return stopping_; }))
      fe_engine_increment_epoch(engine_);
  });
}

Engine::~Engine() {
  {
    std::lock_guard lock(ticker_mutex_);
    stopping_ = true;
  }
  ticker_cv_.notify_all();
  ticker_.join();
  fe_engine_free(engine_);
}

Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  if (fe_abi_version() != FE_ABI_VERSION)
    return Error::Internal("the engine library speaks ABI version " +
                           std::to_string(fe_abi_version()) + ", this host " +
                           std::to_string(FE_ABI_VERSION) + "; rebuild both together");
  const fe_engine_config config{options.consume_fuel, options.pooled_instances,
                                options.max_memory_bytes};
  EngineText err;
  fe_engine* engine = fe_engine_new(&config, err.out());
  if (!engine) return Error::Internal(err.str());
  return std::unique_ptr<Engine>(new Engine(engine, options));
}

Result<std::shared_ptr<CompiledComponent>> Engine::LoadComponent(const std::filesystem::path& path) {
  return LoadCompiledComponent(*this, path);
}

Result<std::shared_ptr<CompiledComponent>> Engine::LoadComponent(const std::filesystem::path& name,
                                                                 std::span<const std::uint8_t> bytes) {
  return LoadCompiledComponent(*this, name, bytes);
}

}  // namespace ferry::wasm
