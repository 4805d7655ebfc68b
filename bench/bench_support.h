// What the benchmarks share: an arrival counter with waiting, and a config
// file in the temporary folder.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

namespace ferry::bench {

class Counter {
 public:
  void Add() {
    std::lock_guard lock(m_);
    ++n_;
    cv_.notify_all();
  }
  std::uint64_t Get() {
    std::lock_guard lock(m_);
    return n_;
  }
  bool WaitFor(std::uint64_t target, std::chrono::seconds limit) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, limit, [&] { return n_ >= target; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::uint64_t n_ = 0;
};

// Writes `text` to <tmp>/<stem>-<pid>.toml and returns the path.
inline std::filesystem::path WriteConfig(const std::string& stem, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}

}  // namespace ferry::bench
