#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "ferry/host.h"

namespace ferry {

Status SetLogLevel(std::string_view level) {
  static const bool configured = [] {
    auto logger = spdlog::stderr_color_mt("ferry");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)configured;
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off")
    return Error::InvalidArgument("unknown log level '" + std::string(level) +
                                  "' (use off, error, warn, info, debug or trace)");
  spdlog::set_level(parsed);
  return Status::Ok();
}

}  // namespace ferry
