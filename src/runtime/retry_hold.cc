#include "runtime/retry_hold.h"

#include <algorithm>

namespace ferry {

RetryHold::RetryHold(Run run) : run_(std::move(run)), thread_([this] { Loop(); }) {}

RetryHold::~RetryHold() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RetryHold::Keep(Delivery delivery, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  held_.push_back({std::move(delivery), Clock::now() + delay});
  cv_.notify_all();
}

void RetryHold::Freeze() {
  std::lock_guard lock(mutex_);
  frozen_ = true;
  cv_.notify_all();
}

void RetryHold::WaitIdle() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return !running_; });
}

std::vector<RetryHold::Held> RetryHold::Take() {
  std::vector<Held> out;
  {
    std::lock_guard lock(mutex_);
    out.swap(held_);
  }
  cv_.notify_all();  // room for a delivery thread waiting in WaitForRoom
  std::sort(out.begin(), out.end(), [](const Held& a, const Held& b) { return a.due < b.due; });
  return out;
}

bool RetryHold::WaitForRoom(std::size_t limit, const std::atomic<bool>& cancelled) {
  std::unique_lock lock(mutex_);
  while (held_.size() >= limit) {
    if (cancelled.load()) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  return true;
}

std::size_t RetryHold::size() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

void RetryHold::Loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (frozen_ || held_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto soonest = std::min_element(held_.begin(), held_.end(),
                                    [](const Held& a, const Held& b) { return a.due < b.due; });
    if (Clock::now() < soonest->due) {
      cv_.wait_until(lock, soonest->due);
      continue;
    }
    Delivery due = std::move(soonest->delivery);
    held_.erase(soonest);
    running_ = true;
    cv_.notify_all();  // room for a delivery thread waiting in WaitForRoom
    lock.unlock();
    run_(std::move(due));
    lock.lock();
    running_ = false;
    cv_.notify_all();  // a Freeze may be waiting for this call
  }
}

}  // namespace ferry
