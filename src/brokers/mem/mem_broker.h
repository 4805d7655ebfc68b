// The embedded in-process broker behind `mem://`: NATS-style subjects, queue
// groups, request-reply through private inboxes, acknowledgement with real
// redelivery, and bounded queues with back-pressure. Nothing is durable: it
// lives as long as the process.
#pragma once

#include <cstdint>
#include <memory>

#include "brokers/broker.h"

namespace ferry {

struct MemOptions {
  // Deliveries buffered per subscription; a publisher waits while a target
  // subscription's buffer is full.
  std::uint32_t queue_capacity = 1024;
};

std::unique_ptr<Broker> MakeMemBroker(const MemOptions& options);

}  // namespace ferry
