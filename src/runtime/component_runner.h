// Runs one configured component: its subscriptions feed a bounded queue that
// a pool of worker threads drains, each worker owning one guest instance.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "brokers/broker.h"
#include "config/config.h"
#include "runtime/bounded_queue.h"
#include "runtime/delivery_policy.h"
#include "wasm/guest.h"

namespace ferry {

class ComponentRunner {
 public:
  ComponentRunner(config::ComponentConfig config, std::shared_ptr<wasm::CompiledComponent> compiled,
                  std::shared_ptr<const wasm::GuestServices> services, Broker& broker,
                  std::uint32_t queue_depth, DeliveryPolicy policy);
  ~ComponentRunner();

  // Instantiates the workers (an instantiation error fails here, before any
  // message is taken), then subscribes.
  Status Start();
  // Stops taking messages: unsubscribes; deliveries waiting for queue room go
  // back to the broker.
  void StopIntake();
  // Lets the workers finish what is queued until `deadline`; what is still
  // queued then is released to the broker. Joins the workers.
  void Drain(Deadline deadline);

  const std::string& name() const { return config_.name; }
  const DeliveryCounters& counters() const { return counters_; }

 private:
  void OnDelivery(Delivery delivery);  // broker thread
  void WorkerLoop(std::unique_ptr<wasm::GuestInstance> instance);

  config::ComponentConfig config_;
  std::shared_ptr<wasm::CompiledComponent> compiled_;
  std::shared_ptr<const wasm::GuestServices> services_;
  Broker& broker_;
  DeliveryPolicy policy_;
  DeliveryCounters counters_;
  BoundedQueue<Delivery> queue_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
  std::vector<std::thread> workers_;
  std::atomic<bool> draining_past_deadline_{false};
};

}  // namespace ferry
