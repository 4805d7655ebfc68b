// The one place where a delivery's fate is decided once a guest has handled
// it (or failed to): acknowledge, retry later, or give up.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "brokers/broker.h"

namespace ferry {

struct DeliveryPolicy {
  std::uint32_t max_attempts = 1;                  // attempts before giving up
  std::chrono::milliseconds retry_delay{100};      // before the 2nd attempt; doubles after
  std::chrono::milliseconds max_retry_delay{10000};
};

// Counters per component; read by stats and tests from any thread.
struct DeliveryCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> handled{0};     // handler returned ok
  std::atomic<std::uint64_t> failed{0};      // every failed attempt
  std::atomic<std::uint64_t> abandoned{0};   // given back by the guest (0.1.0 abandon-message)
  std::atomic<std::uint64_t> retried{0};     // failed attempts released for another try
  std::atomic<std::uint64_t> given_up{0};    // failed on the last attempt
  std::atomic<std::uint64_t> released{0};    // unhandled at shutdown, given back to the broker
};

// Settles `delivery` according to `outcome` of its handling by `component`.
void Settle(const DeliveryPolicy& policy, const std::string& component, Delivery& delivery,
            const Status& outcome, DeliveryCounters& counters);

// The guest abandoned `delivery`: deliver it again later, as a failed attempt
// would be, until max_attempts.
void Abandon(const DeliveryPolicy& policy, const std::string& component, Delivery& delivery,
             DeliveryCounters& counters);

// Gives an unhandled delivery back to the broker (shutdown, no instance).
void Release(Delivery& delivery, DeliveryCounters& counters);

}  // namespace ferry
