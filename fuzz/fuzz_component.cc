// Component loading: any bytes in a .wasm file are a component Ferry runs or
// a one-line error, never a crash.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "wasm/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto engine = ferry::wasm::Engine::Create({});  // no cache: every input is compiled
  static const auto path = std::filesystem::temp_directory_path() /
                           ("ferry-fuzz-" + std::to_string(::getpid()) + ".wasm");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto loaded = (*engine)->LoadComponent(path);
  if (!loaded.ok() && loaded.error().message().find('\n') != std::string::npos) std::abort();
  return 0;
}
