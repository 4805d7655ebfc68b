#include "runtime/delivery_policy.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace ferry {

namespace {

std::chrono::milliseconds RetryDelay(const DeliveryPolicy& policy, std::uint32_t attempt) {
  auto delay = policy.retry_delay * (1u << std::min<std::uint32_t>(attempt - 1, 16));
  return std::min(delay, policy.max_retry_delay);
}

// Another attempt if the policy and the broker allow one; else give up.
void RetryOrGiveUp(const DeliveryPolicy& policy, const std::string& component, Delivery& delivery,
                   std::string_view why, DeliveryCounters& counters) {
  const auto& topic = delivery.message.topic;
  if (delivery.attempt < policy.max_attempts && delivery.acker) {
    const auto delay = RetryDelay(policy, delivery.attempt);
    spdlog::warn("{}: message on {} {} (attempt {} of {}), retrying in {} ms", component, topic,
                 why, delivery.attempt, policy.max_attempts, delay.count());
    counters.retried.fetch_add(1, std::memory_order_relaxed);
    (void)delivery.acker->Nack(delay);
    return;
  }
  spdlog::error("{}: message on {} {} (attempt {} of {}), giving up", component, topic, why,
                delivery.attempt, policy.max_attempts);
  counters.given_up.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) (void)delivery.acker->Term();
}

}  // namespace

void Settle(const DeliveryPolicy& policy, const std::string& component, Delivery& delivery,
            const Status& outcome, DeliveryCounters& counters) {
  if (outcome.ok()) {
    counters.handled.fetch_add(1, std::memory_order_relaxed);
    if (delivery.acker) (void)delivery.acker->Ack();
    return;
  }
  counters.failed.fetch_add(1, std::memory_order_relaxed);
  RetryOrGiveUp(policy, component, delivery, "failed: " + outcome.error().message(), counters);
}

void Abandon(const DeliveryPolicy& policy, const std::string& component, Delivery& delivery,
             DeliveryCounters& counters) {
  counters.abandoned.fetch_add(1, std::memory_order_relaxed);
  RetryOrGiveUp(policy, component, delivery, "was abandoned by the component", counters);
}

void Release(Delivery& delivery, DeliveryCounters& counters) {
  counters.released.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) (void)delivery.acker->Nack(std::chrono::milliseconds(0));
}

}  // namespace ferry
