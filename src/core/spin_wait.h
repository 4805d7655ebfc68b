// Waits on a condition variable after a short spin. A consumer that goes to
// sleep the moment its queue is empty makes every producer pay a futex wake
// (a system call and an inter-processor interrupt, several microseconds on a
// virtual machine) per item. Spinning briefly first keeps a busy stream in
// user space; an idle consumer still sleeps after at most `spin`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace ferry {

inline constexpr std::chrono::microseconds kDefaultSpin{50};

// Like cv.wait(lock, ready), spinning up to `spin` (yielding the processor
// between checks) before sleeping. `lock` is held whenever `ready` runs.
template <typename Ready>
void SpinThenWait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Ready ready,
                  std::chrono::microseconds spin = kDefaultSpin) {
  if (ready()) return;
  const auto until = std::chrono::steady_clock::now() + spin;
  do {
    lock.unlock();
    std::this_thread::yield();
    lock.lock();
    if (ready()) return;
  } while (std::chrono::steady_clock::now() < until);
  cv.wait(lock, ready);
}

}  // namespace ferry
