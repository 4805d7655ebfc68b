// ferry.toml parsing: any text gets a Config or a one-line error.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ferry::config::ParseConfig(text, "/nonexistent");
  if (!config.ok() && config.error().message().find('\n') != std::string::npos) std::abort();
  return 0;
}
