// The one place where a delivery's fate is decided once a guest has handled
// it (or failed to): acknowledge, try again later, or give up, sending it to
// the component's dead-letter topic when it has one.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "brokers/broker.h"
#include "runtime/settle_log.h"

namespace ferry {

struct DeliveryPolicy {
  std::uint32_t max_attempts = 5;                  // attempts before giving up
  std::chrono::milliseconds retry_delay{100};      // before the 2nd attempt; doubles after
  std::chrono::milliseconds max_retry_delay{10000};
  double jitter = 0.2;                             // each delay varies by up to ±20%
  std::string dead_letter;                         // topic on the component's broker; empty: none
};

// Why an attempt failed: the dead-letter message's `ferry-dead-letter-reason`
// (error, trap, timeout, fuel, memory, abandoned, unavailable, shutdown).
// kShutdown is not an attempt that failed: the host stopped while Ferry held
// the only copy of a message it meant to try again.
enum class Failure { kError, kTrap, kTimeout, kFuel, kMemory, kAbandoned, kUnavailable, kShutdown };
inline constexpr std::size_t kFailureKinds = 8;
std::string_view FailureName(Failure failure);

// Counters per component; read by stats and tests from any thread.
struct DeliveryCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> handled{0};       // handler returned ok
  std::atomic<std::uint64_t> failed{0};        // every failed attempt
  std::atomic<std::uint64_t> abandoned{0};     // given back by the guest (0.1.0 abandon-message)
  std::atomic<std::uint64_t> retried{0};       // attempts scheduled again
  std::atomic<std::uint64_t> given_up{0};      // failed on the last attempt
  std::atomic<std::uint64_t> dead_lettered{0}; // of those, sent to the dead-letter topic
  std::atomic<std::uint64_t> released{0};      // unhandled at shutdown, given back to the broker
  std::atomic<std::uint64_t> settle_failed{0}; // ack, nack or term the broker refused
  // Failed attempts by reason (index: Failure); `failed` counts the
  // handler's failures, these also count abandoned ones.
  std::array<std::atomic<std::uint64_t>, kFailureKinds> failed_by{};
};

// Metadata keys of a dead-lettered message.
inline constexpr std::string_view kDeadLetterReasonKey = "ferry-dead-letter-reason";
inline constexpr std::string_view kDeadLetterAttemptsKey = "ferry-attempts";
inline constexpr std::string_view kDeadLetterErrorKey = "ferry-last-error";
inline constexpr std::string_view kDeadLetterComponentKey = "ferry-component";
inline constexpr std::string_view kDeadLetterTopicKey = "ferry-original-topic";

// Settles deliveries for one component. Thread-safe.
class Settler {
 public:
  // `retry_locally` runs a delivery again after a delay, for brokers that
  // cannot redeliver (core NATS, Redis pub/sub, the embedded broker's
  // at-most-once subscriptions): otherwise a failure there would drop it.
  using LocalRetry = std::function<void(Delivery, std::chrono::milliseconds)>;
  Settler(std::string component, DeliveryPolicy policy, Broker& broker, DeliveryCounters& counters,
          LocalRetry retry_locally);

  void Handled(Delivery& delivery);
  // An attempt failed for `failure`; `error` says how, in one line.
  void Failed(Delivery& delivery, Failure failure, const Error& error);
  void Abandoned(Delivery& delivery);
  // Gives an unhandled delivery back to the broker (shutdown). Only for
  // deliveries the broker can redeliver (CanRelease); the others would be
  // dropped, so they go to Shutdown instead.
  void Release(Delivery& delivery);
  bool CanRelease(const Delivery& delivery) const {
    return delivery.acker && redelivers_ && delivery.acker->Redelivers();
  }
  // The host stops while Ferry holds the only copy of `delivery` (a retry of
  // its own, or a delivery from a broker that cannot redeliver, not yet run):
  // dead-letter it with reason `shutdown`, or without a dead_letter topic log
  // it and count it as given up. Never tried again: the host is going away.
  void Shutdown(Delivery& delivery);
  // Ferry keeps `delivery` from now on: settles it with a broker that cannot
  // redeliver anyway (ack) and drops its acker.
  void Forget(Delivery& delivery);

  const DeliveryPolicy& policy() const { return policy_; }

 private:
  void RetryOrGiveUp(Delivery& delivery, Failure failure, const std::string& last_error);
  // Dead-letters (or drops, without a dead_letter topic) after `attempts`.
  // False: the dead-letter publish failed and the delivery is still ours.
  bool GiveUp(Delivery& delivery, Failure failure, const std::string& last_error,
              std::uint32_t attempts);
  std::chrono::milliseconds Delay(std::uint32_t attempt);
  void Again(Delivery& delivery, std::chrono::milliseconds delay);
  // Counts and logs a refused ack, nack or term (see settle_log.h).
  void Settled(const Status& status, std::string_view what, const Delivery& delivery);

  std::string component_;
  DeliveryPolicy policy_;
  Broker& broker_;
  DeliveryCounters& counters_;
  LocalRetry retry_locally_;
  bool redelivers_;
  SettleFailureLog settle_log_;
};

}  // namespace ferry
