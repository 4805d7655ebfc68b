#include "wasm/guest_output.h"

namespace ferry::wasm {

void LineSink::Write(const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    if (c == '\n' || pending_.size() >= kMaxLine) {
      Flush();
      if (c == '\n') continue;
    }
    pending_.push_back(c);
  }
}

void LineSink::Flush() {
  spdlog::log(level_, "[{}] {}", component_, pending_);
  pending_.clear();
}

}  // namespace ferry::wasm
