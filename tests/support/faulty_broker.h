// A Broker that wraps any other and injects faults on command, as LevelDB's
// ErrorEnv wraps its Env: the Nth publish fails, acks / nacks / terms are
// refused, every call is slowed down. The faults can change while it runs
// (the test holds the shared Faults), so a test can break a broker midway.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "brokers/broker.h"

namespace ferry::testing {

struct Faults {
  // Publish number N (counting from 1, over the broker's life) fails with a
  // Connection error; 0: none. Requests count as publishes.
  std::atomic<std::uint64_t> fail_publish_at{0};
  std::atomic<bool> fail_ack{false};
  std::atomic<bool> fail_nack{false};
  std::atomic<bool> fail_term{false};
  // Added to every publish, request, subscribe and settle call.
  std::atomic<std::int64_t> delay_ms{0};

  // What happened, for assertions.
  std::atomic<std::uint64_t> publishes{0};
  std::atomic<std::uint64_t> refused_settles{0};
};

// `inner` does the real work; `faults` may be shared with the test.
std::unique_ptr<Broker> MakeFaultyBroker(std::unique_ptr<Broker> inner,
                                         std::shared_ptr<Faults> faults);

}  // namespace ferry::testing
