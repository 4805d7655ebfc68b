// A condition variable whose waiter spins briefly before it sleeps. A
// consumer that goes to sleep the moment its queue is empty makes every
// producer pay a futex wake (a system call and an inter-processor
// interrupt, several microseconds on a virtual machine) per item. Spinning
// briefly first keeps a busy stream in user space; an idle consumer still
// sleeps after at most `spin`.
//
// The spinning waiter does not take the mutex to look: every notify bumps
// a counter, and the waiter locks and checks its predicate only when the
// counter moved. (Taking the lock on every turn of the spin made the
// producer, which needs the same lock to push, wait for the spinner.)
// So whatever can make a waiter's predicate true must be followed by a
// notify, as with a plain condition variable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace ferry {

inline constexpr std::chrono::microseconds kDefaultSpin{50};

class SpinCondition {
 public:
  void NotifyOne() {
    changes_.fetch_add(1, std::memory_order_release);
    cv_.notify_one();
  }
  void NotifyAll() {
    changes_.fetch_add(1, std::memory_order_release);
    cv_.notify_all();
  }

  // Like std::condition_variable::wait(lock, ready), spinning up to `spin`
  // (yielding the processor between looks) before sleeping. `lock` is held
  // whenever `ready` runs and when this returns.
  template <typename Ready>
  void Wait(std::unique_lock<std::mutex>& lock, Ready ready, std::chrono::microseconds spin = kDefaultSpin) {
    if (ready()) return;
    std::uint32_t seen = changes_.load(std::memory_order_acquire);
    const auto until = std::chrono::steady_clock::now() + spin;
    lock.unlock();
    for (unsigned turn = 1;; ++turn) {
      std::this_thread::yield();
      const std::uint32_t now = changes_.load(std::memory_order_acquire);
      if (now != seen) {
        seen = now;
        lock.lock();
        if (ready()) return;
        lock.unlock();
      }
      // The clock is read every few turns: a yield with nothing else to
      // run takes well under a microsecond.
      if (turn % 8 == 0 && std::chrono::steady_clock::now() >= until) break;
    }
    lock.lock();
    cv_.wait(lock, ready);
  }

  // A plain timed wait, without the spin.
  template <typename TimePoint, typename Ready>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, TimePoint deadline, Ready ready) {
    return cv_.wait_until(lock, deadline, ready);
  }

 private:
  std::atomic<std::uint32_t> changes_{0};
  std::condition_variable cv_;
};

}  // namespace ferry
