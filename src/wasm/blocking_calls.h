// Threads for the broker operations of async-shape guests that the broker
// API can only wait for (a request waits for its replies): an async guest's
// request or reply runs here so that neither the instance's thread nor a
// worker waits on it; the guest task stays suspended until it is done.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace ferry::wasm {

class BlockingCalls {
 public:
  // The process's pool. Threads start when every one is busy (up to
  // kMaxThreads; beyond that tasks queue) and end after kIdle without work.
  static BlockingCalls& Shared();

  // Runs `task` on a pool thread. It must not throw. Thread-safe.
  void Run(std::function<void()> task);

 private:
  static constexpr std::size_t kMaxThreads = 256;
  void Loop();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::size_t threads_ = 0;
  std::size_t idle_ = 0;
};

}  // namespace ferry::wasm
