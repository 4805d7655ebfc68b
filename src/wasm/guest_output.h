// A guest's stdout or stderr in Ferry's log, one line at a time, tagged
// with the component's name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <spdlog/spdlog.h>

namespace ferry::wasm {

// Collects bytes until a newline. Used on the thread running the guest.
class LineSink {
 public:
  LineSink(std::string component, spdlog::level::level_enum level)
      : component_(std::move(component)), level_(level) {}
  ~LineSink() {
    if (!pending_.empty()) Flush();
  }
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  void Write(const std::uint8_t* data, std::size_t size);

 private:
  static constexpr std::size_t kMaxLine = 16 * 1024;  // longer lines are split
  void Flush();

  std::string component_;
  spdlog::level::level_enum level_;
  std::string pending_;
};

}  // namespace ferry::wasm
