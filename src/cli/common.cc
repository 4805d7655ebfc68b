#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "ferry/host.h"

namespace ferry::cli {

std::string RequestedLogLevel(const GlobalOptions& global) {
  if (!global.log_level.empty()) return global.log_level;
  static const char* kByVerbosity[] = {"", "info", "debug", "trace"};
  return kByVerbosity[std::clamp(global.verbosity, 0, 3)];
}

bool ApplyLogLevel(const GlobalOptions& global, const char* default_level) {
  std::string level = RequestedLogLevel(global);
  if (level.empty()) level = default_level;
  Status status = SetLogLevel(level);
  if (!status.ok()) {
    PrintError(status.error().message());
    return false;
  }
  return true;
}

std::string DefaultControlSocket() {
  if (const char* env = std::getenv("FERRY_CONTROL_SOCKET"); env && *env) return env;
  if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run)
    return std::string(run) + "/ferry.sock";
  return "/tmp/ferry-" + std::to_string(::getuid()) + ".sock";
}

void PrintError(const std::string& message) { std::fprintf(stderr, "ferry: %s\n", message.c_str()); }

}  // namespace ferry::cli
