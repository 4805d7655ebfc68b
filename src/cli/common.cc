#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "ferry/host.h"

namespace ferry::cli {

bool ApplyLogLevel(const GlobalOptions& global, const char* default_level) {
  std::string level = global.log_level;
  if (level.empty()) {
    static const char* kByVerbosity[] = {nullptr, "info", "debug", "trace"};
    level = global.verbosity == 0 ? default_level : kByVerbosity[std::min(global.verbosity, 3)];
  }
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
