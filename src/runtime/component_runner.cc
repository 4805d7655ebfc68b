#include "runtime/component_runner.h"

#include <spdlog/spdlog.h>

namespace ferry {

ComponentRunner::ComponentRunner(config::ComponentConfig config,
                                 std::shared_ptr<wasm::CompiledComponent> compiled,
                                 std::shared_ptr<const wasm::GuestServices> services,
                                 Broker& broker, std::uint32_t queue_depth, DeliveryPolicy policy)
    : config_(std::move(config)),
      compiled_(std::move(compiled)),
      services_(std::move(services)),
      broker_(broker),
      policy_(policy),
      queue_(queue_depth) {}

ComponentRunner::~ComponentRunner() {
  StopIntake();
  Drain(Clock::now());
}

Status ComponentRunner::Start() {
  std::vector<std::unique_ptr<wasm::GuestInstance>> instances;
  for (std::uint32_t i = 0; i < config_.workers; ++i) {
    auto instance = compiled_->Instantiate(services_);
    if (!instance.ok()) return instance.error().WithContext("component " + config_.name);
    instances.push_back(std::move(instance).value());
  }
  for (auto& instance : instances)
    workers_.emplace_back([this, inst = std::move(instance)]() mutable { WorkerLoop(std::move(inst)); });
  for (const std::string& pattern : config_.subscriptions) {
    SubscribeOptions options;
    options.pattern = pattern;
    options.queue_group = config_.queue_group;
    options.extensions = config_.extensions;
    // Enough unsettled deliveries to keep every worker and the queue busy.
    options.max_in_flight = static_cast<std::uint32_t>(queue_.capacity_hint() + config_.workers);
    auto sub = broker_.Subscribe(options, [this](Delivery d) { OnDelivery(std::move(d)); });
    if (!sub.ok())
      return sub.error().WithContext("component " + config_.name + ": subscribing to " + pattern);
    subscriptions_.push_back(std::move(sub).value());
    spdlog::info("{}: subscribed to {} on {}", config_.name, pattern, broker_.DisplayUrl());
  }
  return Status::Ok();
}

void ComponentRunner::OnDelivery(Delivery delivery) {
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  if (auto rejected = queue_.Push(std::move(delivery))) Release(*rejected, counters_);
}

void ComponentRunner::WorkerLoop(std::unique_ptr<wasm::GuestInstance> instance) {
  while (auto delivery = queue_.Pop()) {
    if (draining_past_deadline_.load(std::memory_order_relaxed)) {
      Release(*delivery, counters_);
      continue;
    }
    if (!instance || instance->poisoned()) {
      // A trap leaves an instance unusable: start over with a fresh one.
      auto fresh = compiled_->Instantiate(services_);
      if (!fresh.ok()) {
        spdlog::error("{}: cannot make a new instance: {}", config_.name, fresh.error().message());
        instance.reset();
        Settle(policy_, config_.name, *delivery, fresh.error(), counters_);
        continue;
      }
      instance = std::move(fresh).value();
    }
    Status outcome = instance->Handle(delivery->message, &broker_);
    Settle(policy_, config_.name, *delivery, outcome, counters_);
  }
}

void ComponentRunner::StopIntake() {
  queue_.Close();
  subscriptions_.clear();  // waits for delivery callbacks that are running
}

void ComponentRunner::Drain(Deadline deadline) {
  std::thread watchdog;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  if (!workers_.empty()) {
    watchdog = std::thread([&] {
      std::unique_lock lock(m);
      if (!cv.wait_until(lock, deadline, [&] { return done; })) {
        draining_past_deadline_ = true;
        for (Delivery& d : queue_.TakeAll()) Release(d, counters_);
      }
    });
  }
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  if (watchdog.joinable()) {
    {
      std::lock_guard lock(m);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
  }
}

}  // namespace ferry
