// A bounded multi-producer multi-consumer queue. Push blocks while full:
// that wait is how back-pressure travels from busy workers to the broker.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "core/spin_wait.h"

namespace ferry {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  // Waits for room. Returns the item back if intake was closed meanwhile.
  std::optional<T> Push(T item) {
    std::unique_lock lock(mutex_);
    if (!closed_ && items_.size() >= capacity_) {
      ++waiting_pushers_;
      not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
      --waiting_pushers_;
    }
    if (closed_) return item;
    items_.push_back(std::move(item));
    not_empty_.NotifyOne();
    return std::nullopt;
  }

  // Takes `item` only if there is room now; otherwise leaves it untouched.
  bool TryPush(T& item) {
    std::lock_guard lock(mutex_);
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    not_empty_.NotifyOne();
    return true;
  }

  // Queues `item` now, even past capacity. Only for the few items the
  // owner already holds when it shuts down (retries due within the grace
  // period): waiting for room there could outlast the grace period.
  void PushAnyway(T item) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(item));
    not_empty_.NotifyOne();
  }

  // Waits for an item; nullopt once closed and empty.
  std::optional<T> Pop() {
    std::unique_lock lock(mutex_);
    not_empty_.Wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    WakePushers();
    return item;
  }

  // Like Pop, but gives up at `deadline` (a deadline in the past only takes
  // what is already there).
  template <typename TimePoint>
  std::optional<T> PopUntil(TimePoint deadline) {
    std::unique_lock lock(mutex_);
    not_empty_.WaitUntil(lock, deadline, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    WakePushers();
    return item;
  }

  // Stops intake: blocked and later Pushes hand their item back; Pop drains
  // what is left, then returns nullopt.
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.NotifyAll();
  }

  // Removes and returns everything still queued.
  std::deque<T> TakeAll() {
    std::lock_guard lock(mutex_);
    std::deque<T> out;
    out.swap(items_);
    not_full_.notify_all();
    return out;
  }

  std::size_t capacity_hint() const { return capacity_; }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  // Pushers waiting for room are woken once half the queue is free, not on
  // every pop: one wake-up per batch instead of per item.
  void WakePushers() {
    if (waiting_pushers_ > 0 && items_.size() <= capacity_ / 2) not_full_.notify_all();
  }

  const std::size_t capacity_;
  std::size_t waiting_pushers_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable not_full_;
  SpinCondition not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace ferry
