// Rate limit for "the broker refused an ack" lines. A broker that refuses
// one ack usually refuses thousands (a lost connection, a deleted
// consumer); a line each would bury everything else. The first failure of a
// burst is logged at once, later ones are summed up in one line at most
// every `every`.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace ferry {

class SettleFailureLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SettleFailureLog(std::chrono::milliseconds every = std::chrono::seconds(10))
      : every_(every) {}

  // Notes one failure at `now`. Returns whether to log a line now, and how
  // many failures it covers (1 for the first of a burst; the failures kept
  // quiet since the last line plus this one, for a summary). Thread-safe.
  std::optional<std::uint64_t> Note(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    ++quiet_;
    if (logged_once_ && now - last_line_ < every_) return std::nullopt;
    logged_once_ = true;
    last_line_ = now;
    std::uint64_t covered = quiet_;
    quiet_ = 0;
    return covered;
  }

 private:
  const std::chrono::milliseconds every_;
  std::mutex mutex_;
  bool logged_once_ = false;
  Clock::time_point last_line_{};
  std::uint64_t quiet_ = 0;
};

}  // namespace ferry
