#include "core/timer.h"

namespace ferry {

Timer::Timer() : thread_([this] { Run(); }) {}

Timer::~Timer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Timer::After(std::chrono::milliseconds delay, std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  jobs_.push({std::chrono::steady_clock::now() + delay, seq_++, std::move(fn)});
  cv_.notify_all();
}

std::vector<std::function<void()>> Timer::TakePending() {
  std::lock_guard lock(mutex_);
  std::vector<std::function<void()>> out;
  while (!jobs_.empty()) {
    out.push_back(jobs_.top().fn);
    jobs_.pop();
  }
  return out;
}

void Timer::Run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (jobs_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (std::chrono::steady_clock::now() < jobs_.top().at) {
      cv_.wait_until(lock, jobs_.top().at);
      continue;
    }
    auto fn = jobs_.top().fn;
    jobs_.pop();
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace ferry
