#include "runtime/delivery_policy.h"

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

namespace ferry {

std::string_view FailureName(Failure failure) {
  switch (failure) {
    case Failure::kError: return "error";
    case Failure::kTrap: return "trap";
    case Failure::kTimeout: return "timeout";
    case Failure::kFuel: return "fuel";
    case Failure::kMemory: return "memory";
    case Failure::kAbandoned: return "abandoned";
    case Failure::kUnavailable: return "unavailable";
  }
  return "error";
}

Settler::Settler(std::string component, DeliveryPolicy policy, Broker& broker,
                 DeliveryCounters& counters, LocalRetry retry_locally)
    : component_(std::move(component)),
      policy_(std::move(policy)),
      broker_(broker),
      counters_(counters),
      retry_locally_(std::move(retry_locally)) {}

void Settler::Handled(Delivery& delivery) {
  counters_.handled.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) (void)delivery.acker->Ack();
}

void Settler::Failed(Delivery& delivery, Failure failure, const Error& error) {
  counters_.failed.fetch_add(1, std::memory_order_relaxed);
  RetryOrGiveUp(delivery, failure, error.message());
}

void Settler::Abandoned(Delivery& delivery) {
  counters_.abandoned.fetch_add(1, std::memory_order_relaxed);
  RetryOrGiveUp(delivery, Failure::kAbandoned, "abandoned by the component");
}

void Settler::Release(Delivery& delivery) {
  counters_.released.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) (void)delivery.acker->Nack(std::chrono::milliseconds(0));
}

std::chrono::milliseconds Settler::Delay(std::uint32_t attempt) {
  auto delay = policy_.retry_delay * (1u << std::min<std::uint32_t>(attempt - 1, 16));
  delay = std::min(delay, policy_.max_retry_delay);
  if (policy_.jitter > 0 && delay.count() > 0) {
    // Spreads retries out so failures that came together do not return together.
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> spread(1.0 - policy_.jitter, 1.0 + policy_.jitter);
    delay = std::chrono::milliseconds(static_cast<std::int64_t>(delay.count() * spread(rng)));
  }
  return delay;
}

void Settler::Again(Delivery& delivery, std::chrono::milliseconds delay) {
  counters_.retried.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker && broker_.Capabilities().redelivery) {
    (void)delivery.acker->Nack(delay);
    return;
  }
  // The broker will not deliver it again: Ferry keeps it and tries again.
  if (delivery.acker) (void)delivery.acker->Ack();
  Delivery again = delivery;
  again.acker = nullptr;
  retry_locally_(std::move(again), delay);
}

void Settler::RetryOrGiveUp(Delivery& delivery, Failure failure, const std::string& last_error) {
  const auto& topic = delivery.message.topic;
  if (delivery.attempt < policy_.max_attempts) {
    const auto delay = Delay(delivery.attempt);
    spdlog::warn("{}: message on {} failed ({}: {}), attempt {} of {}, again in {} ms", component_,
                 topic, FailureName(failure), last_error, delivery.attempt, policy_.max_attempts,
                 delay.count());
    Again(delivery, delay);
    return;
  }
  if (policy_.dead_letter.empty()) {
    spdlog::error("{}: message on {} failed ({}: {}) on attempt {} of {}; giving up, and no "
                  "dead_letter topic is configured",
                  component_, topic, FailureName(failure), last_error, delivery.attempt,
                  policy_.max_attempts);
    counters_.given_up.fetch_add(1, std::memory_order_relaxed);
    if (delivery.acker) (void)delivery.acker->Term();
    return;
  }
  Message dead = delivery.message;
  dead.topic = policy_.dead_letter;
  dead.reply_to.clear();
  dead.metadata.Set(std::string(kDeadLetterReasonKey), std::string(FailureName(failure)));
  dead.metadata.Set(std::string(kDeadLetterAttemptsKey), std::to_string(delivery.attempt));
  dead.metadata.Set(std::string(kDeadLetterErrorKey), last_error);
  dead.metadata.Set(std::string(kDeadLetterComponentKey), component_);
  dead.metadata.Set(std::string(kDeadLetterTopicKey), topic);
  Status sent = broker_.Publish(dead, Clock::now() + std::chrono::seconds(10));
  if (!sent.ok()) {
    // Never dropped: keep it and try the dead-letter topic again later.
    const auto delay = Delay(delivery.attempt);
    spdlog::error("{}: message on {} could not go to dead-letter topic {} ({}); again in {} ms",
                  component_, topic, policy_.dead_letter, sent.error().message(), delay.count());
    Again(delivery, delay);
    return;
  }
  spdlog::warn("{}: message on {} failed ({}) on attempt {} of {}; sent to {}", component_, topic,
               FailureName(failure), delivery.attempt, policy_.max_attempts, policy_.dead_letter);
  counters_.given_up.fetch_add(1, std::memory_order_relaxed);
  counters_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) (void)delivery.acker->Term();
}

}  // namespace ferry
