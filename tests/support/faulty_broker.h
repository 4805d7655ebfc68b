// A Broker that wraps any other and injects faults on command, as LevelDB's
// ErrorEnv wraps its Env: the Nth publish fails, acks / nacks / terms are
// refused, the connection drops under a waiting request, every call is
// slowed down. The faults can change while it runs (the test holds the
// shared Faults), so a test can break a broker midway.
//
// A whole Host runs on it through RegisterFaultyScheme: while the returned
// registration lives, the URL "faulty://" in a ferry.toml makes an embedded
// broker wrapped in a FaultyBroker. Why a scheme: the Host makes its brokers
// from URLs through the registry, and `Broker` is not part of the public
// API (include/ferry/), so a HostOptions field taking a broker factory
// would put an internal type into it. A scoped entry in the registry
// (brokers/registry.h, ScopedBrokerScheme) changes no production path, and
// ends with the test, so nothing leaks into the next one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "brokers/broker.h"
#include "brokers/registry.h"

namespace ferry::testing {

struct Faults {
  // Publish number N (counting from 1, over the broker's life) fails with a
  // Connection error; 0: none. Requests count as publishes.
  std::atomic<std::uint64_t> fail_publish_at{0};
  // Refuse settles. A refused ack is one the broker never got: the wrapper
  // tells the inner broker to deliver the message again at once, as
  // JetStream or Redis Streams do once their ack wait passes (the embedded
  // broker has none). A refused nack or term leaves the delivery unsettled.
  std::atomic<bool> fail_ack{false};
  std::atomic<bool> fail_nack{false};
  std::atomic<bool> fail_term{false};
  // Added to every publish, request, subscribe and settle call. A publish
  // or request waits no longer than its deadline or timeout: one the delay
  // takes past it fails as a broker's flow control does (ResourceExhausted).
  std::atomic<std::int64_t> delay_ms{0};

  // Publishes that do not wait (Broker::PublishAsync). Publish number N
  // (counted with the others) is taken and handed to the inner broker, but
  // its confirmation reports it lost (a Connection error); 0: none.
  std::atomic<std::uint64_t> fail_confirm_at{0};
  // Confirmations arrive this much later, on the wrapper's own thread.
  std::atomic<std::int64_t> confirm_delay_ms{0};
  // Confirmations are held until this many async publishes are unconfirmed
  // at once; then the held ones come, and later ones as they would without
  // it (a gate that only that many sends out together open). 0: none.
  std::atomic<std::int64_t> confirm_once_unconfirmed{0};
  // The wrapper's window of unconfirmed publishes; read when the broker is
  // made, so set it before.
  std::uint32_t max_unconfirmed = 1024;

  // The connection drops (and comes back at once): every request waiting
  // for replies ends with a Connection error now. Any thread.
  void DropConnection();

  // What happened, for assertions.
  std::atomic<std::uint64_t> publishes{0};
  std::atomic<std::uint64_t> refused_settles{0};
  std::atomic<std::uint64_t> requests_waiting{0};  // now
  std::atomic<std::int64_t> unsettled{0};         // deliveries out, not yet settled
  std::atomic<std::int64_t> peak_unsettled{0};    // the most at once
  std::atomic<std::int64_t> unconfirmed{0};       // async publishes not yet confirmed
  std::atomic<std::int64_t> peak_unconfirmed{0};  // the most at once
  std::atomic<std::uint64_t> confirmed{0};        // confirmations reported (ok or lost)
  std::atomic<std::uint64_t> acks{0};             // acks passed on
  // Acks passed on while some async publish was still unconfirmed.
  std::atomic<std::uint64_t> acks_while_unconfirmed{0};

  // Wakes requests on DropConnection; `drops` counts them.
  std::mutex mutex;
  std::condition_variable cv;
  std::uint64_t drops = 0;
};

// `inner` does the real work; `faults` may be shared with the test.
std::unique_ptr<Broker> MakeFaultyBroker(std::unique_ptr<Broker> inner,
                                         std::shared_ptr<Faults> faults);

// Registers the scheme "faulty" while the result lives: "faulty://" makes
// an embedded broker (the URL's options, e.g. queue_capacity, go to it)
// wrapped in a FaultyBroker sharing `faults`. Only one at a time. With
// `inner_url` (e.g. a JetStream server's), that broker is wrapped instead.
Result<std::unique_ptr<ScopedBrokerScheme>> RegisterFaultyScheme(std::shared_ptr<Faults> faults,
                                                                 std::string inner_url = "mem://");

// After one delivery that sent `sends` pipelined messages was handled: it was
// acked once, only after every send was confirmed, and the sends were out
// together (more than one unconfirmed at a time), not one by one.
void ExpectOneAckAfterAllConfirmed(const Faults& faults, std::uint64_t sends);

}  // namespace ferry::testing
