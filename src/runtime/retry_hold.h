// Deliveries Ferry keeps to run again itself, for brokers that cannot
// redeliver (core NATS, Redis pub/sub): the broker has forgotten them, so
// until they run again this is their only copy. Unlike a plain Timer it
// knows what it holds and when each is due, so shutdown can run, dead-letter
// or hand over each one instead of dropping it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "brokers/broker.h"

namespace ferry {

class RetryHold {
 public:
  // `run` gets each delivery when it is due, on the hold's own thread; the
  // delivery's `attempt` is already the attempt about to be made.
  using Run = std::function<void(Delivery)>;
  explicit RetryHold(Run run);
  // Deliveries still held are dropped: callers Take them first.
  ~RetryHold();
  RetryHold(const RetryHold&) = delete;
  RetryHold& operator=(const RetryHold&) = delete;

  void Keep(Delivery delivery, std::chrono::milliseconds delay);
  // Nothing runs any more; Keep still stores.
  void Freeze();
  // Waits for a `run` call under way when frozen to return: call it once
  // that call cannot block (the queue it pushes into is closed).
  void WaitIdle();

  struct Held {
    Delivery delivery;
    Deadline due;
  };
  // Removes and returns everything held, soonest first.
  std::vector<Held> Take();
  std::size_t size() const;
  // Waits while `limit` or more are held (the caller is a broker's delivery
  // thread: waiting is back-pressure on the broker). False once `cancelled`
  // turns true, rechecked every 50 ms.
  bool WaitForRoom(std::size_t limit, const std::atomic<bool>& cancelled);

 private:
  void Loop();

  Run run_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Held> held_;  // unsorted: few at a time, scanned for the soonest
  bool frozen_ = false;
  bool running_ = false;  // a `run` call is under way
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

}  // namespace ferry
