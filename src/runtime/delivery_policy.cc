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
    case Failure::kShutdown: return "shutdown";
  }
  return "error";
}

Settler::Settler(std::string component, DeliveryPolicy policy, Broker& broker,
                 DeliveryCounters& counters, LocalRetry retry_locally)
    : component_(std::move(component)),
      policy_(std::move(policy)),
      broker_(broker),
      counters_(counters),
      retry_locally_(std::move(retry_locally)),
      redelivers_(broker.Capabilities().redelivery) {}

void Settler::Settled(const Status& status, std::string_view what, const Delivery& delivery) {
  if (status.ok()) return;
  counters_.settle_failed.fetch_add(1, std::memory_order_relaxed);
  auto covered = settle_log_.Note(SettleFailureLog::Clock::now());
  if (!covered) return;
  // What happens next is the broker's: one that redelivers sends the message
  // again (the handler may see it twice); see docs/brokers/.
  if (*covered == 1) {
    spdlog::error("{}: the broker refused to {} a message on {} ({}); it may deliver it again. "
                  "Further refusals are summed up at most every 10 s",
                  component_, what, delivery.message.topic, status.error().message());
  } else {
    spdlog::error("{}: the broker refused {} more acks, nacks or terms; the latest: {} of a "
                  "message on {} ({})",
                  component_, *covered, what, delivery.message.topic, status.error().message());
  }
}

void Settler::Handled(Delivery& delivery) {
  counters_.handled.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) Settled(delivery.acker->Ack(), "ack", delivery);
}

void Settler::Failed(Delivery& delivery, Failure failure, const Error& error) {
  counters_.failed.fetch_add(1, std::memory_order_relaxed);
  counters_.failed_by[static_cast<std::size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
  RetryOrGiveUp(delivery, failure, error.message());
}

void Settler::Abandoned(Delivery& delivery) {
  counters_.abandoned.fetch_add(1, std::memory_order_relaxed);
  counters_.failed_by[static_cast<std::size_t>(Failure::kAbandoned)].fetch_add(1, std::memory_order_relaxed);
  RetryOrGiveUp(delivery, Failure::kAbandoned, "abandoned by the component");
}

void Settler::Release(Delivery& delivery) {
  counters_.released.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) Settled(delivery.acker->Nack(std::chrono::milliseconds(0)), "nack", delivery);
}

void Settler::Shutdown(Delivery& delivery) {
  // `attempt` is the attempt about to be made: the ones before it were made.
  const std::uint32_t made = delivery.attempt > 0 ? delivery.attempt - 1 : 0;
  const std::string why = "the host stopped before attempt " + std::to_string(delivery.attempt);
  if (GiveUp(delivery, Failure::kShutdown, why, made)) return;
  // No later: the host is going away.
  spdlog::error("{}: message on {} is lost: the host stopped and its dead-letter topic failed",
                component_, delivery.message.topic);
  counters_.given_up.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) Settled(delivery.acker->Term(), "term", delivery);
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
  if (CanRelease(delivery)) {
    Settled(delivery.acker->Nack(delay), "nack", delivery);
    return;
  }
  // The broker will not deliver it again: Ferry keeps it and tries again.
  Delivery again = delivery;
  Forget(again);
  retry_locally_(std::move(again), delay);
}

void Settler::Forget(Delivery& delivery) {
  if (delivery.acker) Settled(delivery.acker->Ack(), "ack", delivery);
  delivery.acker = nullptr;
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
  if (GiveUp(delivery, failure, last_error, delivery.attempt)) return;
  // Never dropped: keep it and try the dead-letter topic again later.
  Again(delivery, Delay(delivery.attempt));
}

bool Settler::GiveUp(Delivery& delivery, Failure failure, const std::string& last_error,
                     std::uint32_t attempts) {
  const auto& topic = delivery.message.topic;
  if (policy_.dead_letter.empty()) {
    spdlog::error("{}: message on {} failed ({}: {}) after {} of {} attempts; giving up, and no "
                  "dead_letter topic is configured",
                  component_, topic, FailureName(failure), last_error, attempts,
                  policy_.max_attempts);
    counters_.given_up.fetch_add(1, std::memory_order_relaxed);
    if (delivery.acker) Settled(delivery.acker->Term(), "term", delivery);
    return true;
  }
  Message dead = delivery.message;
  dead.topic = policy_.dead_letter;
  dead.reply_to.clear();
  dead.metadata.Set(std::string(kDeadLetterReasonKey), std::string(FailureName(failure)));
  dead.metadata.Set(std::string(kDeadLetterAttemptsKey), std::to_string(attempts));
  dead.metadata.Set(std::string(kDeadLetterErrorKey), last_error);
  dead.metadata.Set(std::string(kDeadLetterComponentKey), component_);
  dead.metadata.Set(std::string(kDeadLetterTopicKey), topic);
  Status sent = broker_.Publish(dead, Clock::now() + std::chrono::seconds(10));
  if (!sent.ok()) {
    spdlog::error("{}: message on {} could not go to dead-letter topic {} ({})", component_, topic,
                  policy_.dead_letter, sent.error().message());
    return false;
  }
  spdlog::warn("{}: message on {} failed ({}) after {} of {} attempts; sent to {}", component_,
               topic, FailureName(failure), attempts, policy_.max_attempts, policy_.dead_letter);
  counters_.given_up.fetch_add(1, std::memory_order_relaxed);
  counters_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
  if (delivery.acker) Settled(delivery.acker->Term(), "term", delivery);
  return true;
}

}  // namespace ferry
