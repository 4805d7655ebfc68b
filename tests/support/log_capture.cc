#include "support/log_capture.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "ferry/host.h"

namespace ferry::testing {

struct LogCapture::Sink final : spdlog::sinks::base_sink<std::mutex> {
  mutable std::mutex lines_mutex;
  mutable std::condition_variable changed;
  std::vector<std::string> lines;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::lock_guard lock(lines_mutex);
    lines.emplace_back(msg.payload.data(), msg.payload.size());
    changed.notify_all();
  }
  void flush_() override {}
};

LogCapture::LogCapture() : sink_(std::make_shared<Sink>()) {
  (void)SetLogLevel("warn");  // makes sure Ferry's logger exists
  previous_level_ = spdlog::get_level();
  spdlog::default_logger()->sinks().push_back(sink_);
  spdlog::set_level(spdlog::level::info);
}

LogCapture::~LogCapture() {
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  spdlog::set_level(static_cast<spdlog::level::level_enum>(previous_level_));
}

std::vector<std::string> LogCapture::Lines() const {
  std::lock_guard lock(sink_->lines_mutex);
  return sink_->lines;
}

std::size_t LogCapture::Count(const std::string& text) const {
  std::size_t n = 0;
  for (const std::string& line : Lines()) n += line.find(text) != std::string::npos;
  return n;
}

bool LogCapture::WaitFor(const std::string& text, std::chrono::milliseconds limit) const {
  std::unique_lock lock(sink_->lines_mutex);
  return sink_->changed.wait_for(lock, limit, [&] {
    for (const std::string& line : sink_->lines)
      if (line.find(text) != std::string::npos) return true;
    return false;
  });
}

}  // namespace ferry::testing
