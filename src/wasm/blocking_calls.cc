#include "wasm/blocking_calls.h"

#include <chrono>
#include <thread>

#include "core/thread_name.h"

namespace ferry::wasm {
namespace {
constexpr auto kIdle = std::chrono::seconds(10);
}  // namespace

BlockingCalls& BlockingCalls::Shared() {
  // Never destroyed: its threads end by themselves once idle, and a task
  // still running at exit must not find the pool gone.
  static auto* pool = new BlockingCalls();
  return *pool;
}

void BlockingCalls::Run(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(std::move(task));
  if (idle_ >= tasks_.size() || threads_ >= kMaxThreads) {
    cv_.notify_one();
    return;
  }
  ++threads_;
  std::thread([this] { Loop(); }).detach();
}

void BlockingCalls::Loop() {
  NameThisThread("ferry-calls");
  std::unique_lock lock(mutex_);
  while (true) {
    ++idle_;
    const bool woke = cv_.wait_for(lock, kIdle, [&] { return !tasks_.empty(); });
    --idle_;
    if (!woke) {
      --threads_;
      return;
    }
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace ferry::wasm
