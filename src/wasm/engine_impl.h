// The wasmtime objects behind wasm::Engine; only src/wasm sees them.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include <wasmtime.hh>

#include "wasm/engine.h"

namespace ferry::wasm {

struct Engine::Impl {
  Impl(wasmtime::Engine e, EngineOptions o) : engine(std::move(e)), options(std::move(o)) {}

  wasmtime::Engine engine;
  EngineOptions options;
  std::thread ticker;  // advances the epoch every options.epoch_tick
  std::mutex ticker_mutex;
  std::condition_variable ticker_cv;
  bool stopping = false;
};

}  // namespace ferry::wasm
