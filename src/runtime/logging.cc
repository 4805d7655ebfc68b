#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "ferry/host.h"
#include "runtime/log_context.h"

namespace ferry {
namespace {

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

// One JSON object per line: time (UTC, milliseconds), level, component and
// topic when the logging thread handles one, message.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
    const std::time_t seconds = std::chrono::system_clock::to_time_t(msg.time);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char time[40];
    const std::size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(time + n, sizeof time - n, ".%03lldZ", static_cast<long long>(ms));

    nlohmann::json line;
    line["time"] = time;
    const auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    if (log_context.component) line["component"] = *log_context.component;
    if (log_context.topic) line["topic"] = *log_context.topic;
    line["message"] = std::string(msg.payload.data(), msg.payload.size());
    // Text that is not UTF-8 (a topic is any bytes) is replaced, never thrown.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto made = spdlog::stderr_color_mt("ferry");
    made->set_pattern(kTextPattern);
    spdlog::set_default_logger(made);
    return made;
  }();
  return logger;
}

}  // namespace

Status SetLogLevel(std::string_view level) {
  (void)Logger();
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off")
    return Error::InvalidArgument("unknown log level '" + std::string(level) +
                                  "' (use off, error, warn, info, debug or trace)");
  spdlog::set_level(parsed);
  return Status::Ok();
}

Status SetLogFormat(std::string_view format) {
  auto logger = Logger();
  if (format == "text") {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(kTextPattern));
  } else if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    return Error::InvalidArgument("unknown log format '" + std::string(format) + "' (use text or json)");
  }
  return Status::Ok();
}

}  // namespace ferry
