#include "wasm/guest_output.h"

#include <spdlog/spdlog.h>

namespace ferry::wasm {
namespace {

// Collects bytes until a newline. Called on the worker thread that runs the
// guest; owned by wasmtime, freed through Finalize.
struct LineSink {
  std::string component;
  spdlog::level::level_enum level;
  std::string pending;

  static constexpr std::size_t kMaxLine = 16 * 1024;  // longer lines are split

  static ptrdiff_t Write(void* self, const unsigned char* data, std::size_t size) {
    auto* sink = static_cast<LineSink*>(self);
    for (std::size_t i = 0; i < size; ++i) {
      const char c = static_cast<char>(data[i]);
      if (c == '\n' || sink->pending.size() >= kMaxLine) {
        sink->Flush();
        if (c == '\n') continue;
      }
      sink->pending.push_back(c);
    }
    return static_cast<ptrdiff_t>(size);
  }
  void Flush() {
    spdlog::log(level, "[{}] {}", component, pending);
    pending.clear();
  }
  static void Finalize(void* self) {
    auto* sink = static_cast<LineSink*>(self);
    if (!sink->pending.empty()) sink->Flush();
    delete sink;
  }
};

}  // namespace

void RouteGuestOutput(wasmtime::WasiConfig& wasi, const std::string& component_name) {
  wasi_config_set_stdout_custom(wasi.capi(), LineSink::Write,
                                new LineSink{component_name, spdlog::level::info, {}},
                                LineSink::Finalize);
  wasi_config_set_stderr_custom(wasi.capi(), LineSink::Write,
                                new LineSink{component_name, spdlog::level::warn, {}},
                                LineSink::Finalize);
}

}  // namespace ferry::wasm
