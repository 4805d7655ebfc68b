// The bound on publishes one broker connection keeps unconfirmed at once
// (Broker::PublishAsync). Adapters take a place before a message goes out
// and give it back when the broker's confirmation (or the loss) arrives.
// A full window makes the publisher wait: flow control, never a drop, and
// never past the publisher's deadline. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "brokers/broker.h"

namespace ferry {

class PublishWindow {
 public:
  explicit PublishWindow(std::uint32_t size) : size_(size == 0 ? 1 : size) {}

  // Takes a place, waiting while the window is full. ResourceExhausted,
  // naming `what`, once `deadline` passes without one.
  Status Acquire(Deadline deadline, std::string_view what) {
    std::unique_lock lock(mutex_);
    if (!room_.wait_until(lock, deadline, [&] { return used_ < size_; }))
      return Error::ResourceExhausted(std::string(what) + ": " + std::to_string(size_) +
                                      " publishes are waiting for the broker's confirmation "
                                      "(max_unconfirmed) and none came in time");
    ++used_;
    if (used_ > peak_) peak_ = used_;
    return Status::Ok();
  }
  // Gives a place back: the publish was confirmed, or is lost.
  void Release() {
    bool empty = false;
    {
      std::lock_guard lock(mutex_);
      if (used_ > 0) --used_;
      empty = used_ == 0;
    }
    room_.notify_one();
    if (empty) empty_.notify_all();
  }
  // Waits until nothing is unconfirmed, or `deadline`; false if some still are.
  bool WaitEmpty(Deadline deadline) {
    std::unique_lock lock(mutex_);
    return empty_.wait_until(lock, deadline, [&] { return used_ == 0; });
  }

  std::uint32_t size() const { return size_; }
  std::uint32_t used() const {
    std::lock_guard lock(mutex_);
    return used_;
  }
  // The most unconfirmed at once so far (tests check the bound with it).
  std::uint32_t peak() const {
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  const std::uint32_t size_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::condition_variable empty_;
  std::uint32_t used_ = 0;
  std::uint32_t peak_ = 0;
};

// Parses a `max_unconfirmed` setting: a positive integer.
Result<std::uint32_t> ParseMaxUnconfirmed(std::string_view value);

}  // namespace ferry
