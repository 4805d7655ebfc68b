#include "runtime/delivery_policy.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace ferry {

void Settle(const DeliveryPolicy& policy, const std::string& component, Delivery& delivery,
            const Status& outcome, DeliveryCounters& counters) {
  if (outcome.ok()) {
    counters.handled.fetch_add(1, std::memory_order_relaxed);
    if (delivery.acker) (void)delivery.acker->Ack();
    return;
  }
  counters.failed.fetch_add(1, std::memory_order_relaxed);
  const auto& topic = delivery.message.topic;
  if (delivery.attempt < policy.max_attempts && delivery.acker) {
    auto delay = policy.retry_delay * (1u << std::min<std::uint32_t>(delivery.attempt - 1, 16));
    delay = std::min(delay, policy.max_retry_delay);
    spdlog::warn("{}: message on {} failed (attempt {} of {}), retrying in {} ms: {}", component,
                 topic, delivery.attempt, policy.max_attempts, delay.count(),
                 outcome.error().message());
    counters.retried.fetch_add(1, std::memory_order_relaxed);
    (void)delivery.acker->Nack(delay);
    return;
  }
  spdlog::error("{}: message on {} failed (attempt {} of {}), giving up: {}", component, topic,
                delivery.attempt, policy.max_attempts, outcome.error().message());
  counters.given_up.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) (void)delivery.acker->Term();
}

void Release(Delivery& delivery, DeliveryCounters& counters) {
  counters.released.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) (void)delivery.acker->Nack(std::chrono::milliseconds(0));
}

}  // namespace ferry
