// A host-wide cap on deliveries held at once, across every component: a
// counting semaphore. A broker delivery thread that finds no slot waits,
// which pushes back to the broker as flow control.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace ferry {

class InFlightBudget {
 public:
  explicit InFlightBudget(std::uint32_t slots) : free_(slots) {}

  // Takes a slot, waiting while none is free. Gives up (false) once
  // `cancelled` turns true, rechecked every 50 ms.
  bool Acquire(const std::atomic<bool>& cancelled) {
    std::unique_lock lock(mutex_);
    while (free_ == 0) {
      if (cancelled.load()) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    --free_;
    return true;
  }
  // Takes a slot only if one is free now.
  bool TryAcquire() {
    std::lock_guard lock(mutex_);
    if (free_ == 0) return false;
    --free_;
    return true;
  }
  void Release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint32_t free_;
};

}  // namespace ferry
