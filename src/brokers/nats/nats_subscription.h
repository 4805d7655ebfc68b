// The NATS adapter's subscriptions: what cnats calls back with each
// message (core NATS and JetStream), the ackers of their deliveries, and
// the Subscription that ends them. Only src/brokers/nats/ includes this.
#pragma once

#include <mutex>

#include "brokers/broker.h"
#include "brokers/nats/nats_internal.h"

namespace ferry::nats_internal {

// A subscription's handler and the lock that keeps it from running after
// the subscription is gone. cnats calls OnMessage on the subscription's own
// delivery thread, one message at a time, and OnComplete once that thread is
// done with it; OnComplete frees the state, so a last OnMessage racing the
// unsubscribe still finds it.
struct SubState {
  std::mutex mutex;
  bool closed = false;
  SubscribeOptions options;
  DeliveryHandler handler;

  // Core NATS: each message delivered at most once.
  static void OnMessage(natsConnection*, natsSubscription*, natsMsg* raw, void* closure);
  static void OnComplete(void* closure) { delete static_cast<SubState*>(closure); }
};

// JetStream: a message is acknowledged after its handler returned, unless
// the subscriber settles it (manual_ack). `closure` is a SubState.
void OnJetStreamMessage(natsConnection*, natsSubscription*, natsMsg* raw, void* closure);

// Ends `sub` when destroyed. `state` belongs to cnats from here on (freed by
// SubState::OnComplete). `keep_consumer`: a durable JetStream consumer
// outlives the subscription (unsubscribing would delete it), so it is only
// let go of.
std::unique_ptr<Subscription> MakeSubscription(SubState* state, SubscriptionPtr sub, bool keep_consumer = false);

}  // namespace ferry::nats_internal
