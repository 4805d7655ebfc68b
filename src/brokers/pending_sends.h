// The publishes one handling of a delivery (or one batch) made and still
// waits to hear about: what lets a guest's `send` return before the broker
// confirms, while the delivery it handled is settled only once every send
// it made is confirmed (at least once, end to end).
//
// The worker that runs the handler calls Track before each PublishAsync
// and Seal once the handler returned. Completions arrive on adapter
// threads (or inline, on the worker). Whichever comes last reports the
// outcome, exactly once: Seal by returning it, the last completion by
// running Seal's `on_done` on its own thread. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "brokers/broker.h"

namespace ferry {

class PendingSends : public std::enable_shared_from_this<PendingSends> {
 public:
  static std::shared_ptr<PendingSends> Make() { return std::make_shared<PendingSends>(); }

  // One more publish to wait for; its completion for PublishAsync. When
  // PublishAsync refuses the message (so never calls it), call Untrack.
  PublishCompletion Track() {
    {
      std::lock_guard lock(mutex_);
      ++outstanding_;
      ++tracked_;
    }
    return [self = shared_from_this()](Status outcome) { self->Completed(std::move(outcome)); };
  }
  void Untrack() {
    {
      std::lock_guard lock(mutex_);
      --tracked_;
    }
    Completed(Status::Ok());
  }

  // No more sends come. When every tracked send has completed already,
  // returns the outcome (Ok, or the first error) and `on_done` is dropped;
  // else returns nullopt and `on_done` runs once, with the outcome, on the
  // thread of the last completion.
  std::optional<Status> Seal(std::function<void(Status)> on_done) {
    std::lock_guard lock(mutex_);
    sealed_ = true;
    if (outstanding_ == 0) return first_error_;
    on_done_ = std::move(on_done);
    return std::nullopt;
  }

  // Seals and returns the outcome if every tracked send has completed;
  // otherwise leaves it open and returns nullopt (then call Seal).
  std::optional<Status> SealIfDone() {
    std::lock_guard lock(mutex_);
    if (outstanding_ > 0) return std::nullopt;
    sealed_ = true;
    return first_error_;
  }

  // Sends not yet confirmed (for tests and stats).
  std::uint32_t outstanding() const {
    std::lock_guard lock(mutex_);
    return outstanding_;
  }
  // The number of sends tracked so far.
  std::uint32_t tracked() const {
    std::lock_guard lock(mutex_);
    return tracked_;
  }

 private:
  void Completed(Status outcome) {
    std::function<void(Status)> done;
    Status result;
    {
      std::lock_guard lock(mutex_);
      if (!outcome.ok() && first_error_.ok()) first_error_ = std::move(outcome);
      --outstanding_;
      if (!sealed_ || outstanding_ > 0 || !on_done_) return;
      done = std::move(on_done_);
      on_done_ = nullptr;
      result = first_error_;
    }
    done(std::move(result));
  }

  mutable std::mutex mutex_;
  std::uint32_t outstanding_ = 0;
  std::uint32_t tracked_ = 0;
  bool sealed_ = false;
  Status first_error_ = Status::Ok();
  std::function<void(Status)> on_done_;
};

}  // namespace ferry
