// Runs one configured component: its subscriptions feed a bounded queue that
// a pool of worker threads drains, each worker owning one guest instance (or
// a fresh one per call, for 0.1.0 shapes).
#pragma once

#include <chrono>
#include <condition_variable>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "brokers/broker.h"
#include "config/config.h"
#include "runtime/awaiting_confirms.h"
#include "runtime/bounded_queue.h"
#include "runtime/delivery_policy.h"
#include "runtime/in_flight.h"
#include "runtime/metrics.h"
#include "runtime/retry_hold.h"
#include "core/trace_context.h"
#include "wasm/guest.h"

namespace ferry {

class SpanExporter;

class ComponentRunner {
 public:
  ComponentRunner(config::ComponentConfig config, std::shared_ptr<wasm::CompiledComponent> compiled,
                  std::shared_ptr<const wasm::GuestServices> services, Broker& broker,
                  std::uint32_t queue_depth, std::shared_ptr<InFlightBudget> budget = nullptr);
  ~ComponentRunner();

  // Instantiates the workers and, for shapes that configure themselves, asks
  // the component for its channels (any error fails here, before a message
  // is taken); then subscribes.
  Status Start();
  // Stops taking messages: deliveries arriving or waiting for queue room go
  // back to the broker. Retries Ferry holds itself (brokers that cannot
  // redeliver) are the only copy, so they are not given back: when
  // `hand_over`, they stay held for TakeHeld; otherwise those due before
  // `deadline` are queued to run now and the rest are dead-lettered with
  // reason `shutdown` (Settler::Shutdown). Idempotent: the first call decides.
  void StopIntake(Deadline deadline, bool hand_over = false);
  // Lets the workers finish what is queued until `deadline`; what is still
  // queued then is released to the broker. Joins the workers, then
  // unsubscribes.
  void Drain(Deadline deadline);

  // After Drain, with hand_over: the retries still held, for the next host.
  std::vector<RetryHold::Held> TakeHeld() { return hold_.Take(); }
  // Takes over retries of the same component from a host that stopped.
  void Adopt(Delivery delivery, std::chrono::milliseconds delay);

  // Counts deliveries per topic (at most `max_topics` by name) for the
  // metrics page. Call before Start.
  void CountTopics(std::size_t max_topics) { topics_ = std::make_unique<TopicCounters>(max_topics); }
  // Starts traces for deliveries without one and logs a span line per
  // handler call ([host].tracing). Call before Start.
  void TraceCalls() { tracing_ = true; }
  // Sends each sampled call's span to `exporter` ([host].otlp_endpoint),
  // which outlives this runner. Call before Start.
  void ExportSpans(SpanExporter* exporter) { spans_ = exporter; }
  // This runner's figures, from any thread.
  ComponentSnapshot Snapshot() const;

  const std::string& name() const { return config_.name; }
  const DeliveryCounters& counters() const { return counters_; }
  const DeliveryPolicy& policy() const { return settler_.policy(); }
  // The patterns subscribed to right now (configured and guest-chosen).
  std::vector<std::string> Subscriptions() const;

 private:
  void OnDelivery(Delivery delivery);  // broker thread
  // Counts a delivery in and queues it (waiting for room); held retries
  // re-enter here.
  void Accept(Delivery delivery);
  // The same without waiting (false: the delivery is left as it was); the
  // embedded broker calls it on the publishing thread.
  bool TryOnDelivery(Delivery& delivery);
  // Takes a host-wide slot for a delivery entering the runner (false: the
  // runner is stopping); Done gives it back once the delivery is settled.
  bool Admit();
  void Done(std::size_t n = 1);
  // A delivery the runner will not run because it is stopping: back to a
  // broker that redelivers, else kept for the next host or dead-lettered.
  void GiveBack(Delivery& delivery);
  // The hold's callback: a retry whose time has come.
  void RunHeld(Delivery delivery);
  void WorkerLoop(std::unique_ptr<wasm::GuestInstance> instance);
  // The async shape's worker (component_runner_async.cc): keeps up to
  // max_concurrent_per_instance calls in flight on its instance.
  void AsyncWorkerLoop(std::unique_ptr<wasm::GuestInstance> instance);
  // Settles one delivery of the async shape when its call ended (on the
  // instance's thread).
  void FinishAsync(Delivery& delivery, const wasm::CallOutcome& outcome);
  // The calls in flight on one async worker's instance (defined in
  // component_runner_async.cc).
  struct AsyncSlots;
  // Starts `delivery` on `instance` in a slot already taken for it.
  void StartAsync(wasm::GuestInstance& instance, Delivery delivery, const std::shared_ptr<AsyncSlots>& slots);
  // A new guest instance, counted.
  Result<std::unique_ptr<wasm::GuestInstance>> NewInstance();
  void CountTopic(const Delivery& d, TopicCounters::Event event) {
    if (topics_) topics_->Count(d.message.topic, event);
  }
  // Settles deliveries whose handler succeeded once the broker confirmed
  // every send it made (AwaitingConfirms's thread, or the worker).
  void SettleConfirmed(std::vector<Delivery>& deliveries, const Status& outcome);
  // Up to batch_size deliveries: waits for the first, then up to the linger.
  // Fills `batch` (empty) with the next deliveries; false once the queue
  // is closed and empty.
  bool NextBatch(std::vector<Delivery>& batch);
  // Replaces the guest-chosen channels (update-guest-configuration); runs on
  // a worker thread.
  Status Reconfigure(const wasm::GuestConfiguration& gc);
  // A channel the guest asks for: a valid pattern it is granted.
  Status GuestMaySubscribe(const std::string& channel) const;
  // A live subscription. `live` turns false the moment the guest drops the
  // channel, so nothing more is delivered from it even before the
  // subscription itself is gone.
  struct Sub {
    std::unique_ptr<Subscription> subscription;
    std::shared_ptr<std::atomic<bool>> live;
  };
  Result<Sub> SubscribeTo(const std::string& pattern);
  void Retire(Sub sub);  // caller holds subs_mutex_
  void ReaperLoop();
  // Logs (tracing_) and exports (spans_) the span of a finished call.
  void FinishSpan(const TraceSpan& span, const std::string& topic, std::size_t messages,
                  const wasm::CallOutcome& outcome, Clock::duration took) const;
  void DropSubscriptions();

  config::ComponentConfig config_;
  std::shared_ptr<wasm::CompiledComponent> compiled_;
  std::shared_ptr<const wasm::GuestServices> services_;
  Broker& broker_;
  bool fresh_instances_;  // a new instance for every handler call
  std::size_t batch_size_;
  DeliveryCounters counters_;
  DurationHistogram durations_;
  std::unique_ptr<TopicCounters> topics_;  // null: not counted
  bool tracing_ = false;
  SpanExporter* spans_ = nullptr;  // null: spans are not exported
  std::atomic<std::uint64_t> in_flight_{0};  // admitted, not Done yet
  std::atomic<std::uint64_t> instances_created_{0};
  BoundedQueue<Delivery> queue_;
  Settler settler_;
  std::vector<std::thread> workers_;
  std::atomic<bool> draining_past_deadline_{false};
  std::shared_ptr<InFlightBudget> budget_;  // null: no host-wide cap
  std::atomic<bool> stopping_{false};
  std::atomic<bool> hand_over_{false};  // stopping for a reload
  std::atomic<bool> stop_called_{false};
  // Deliveries Ferry tries again itself (brokers that do not redeliver).
  // After what its callback uses, so it goes first.
  RetryHold hold_;
  // Handled deliveries waiting for their sends' confirmations.
  AwaitingConfirms awaiting_;

  // Subscriptions. Configured ones stay for the runner's life; the guest's
  // own channels change with update-guest-configuration.
  mutable std::mutex subs_mutex_;
  bool intake_stopped_ = false;
  std::map<std::string, Sub> configured_subs_;
  std::map<std::string, Sub> guest_subs_;
  std::map<std::string, std::string> guest_extensions_;
  // Dropping a subscription waits for its delivery callback, which may be
  // waiting for queue room that only the workers make; so subscriptions a
  // worker drops are destroyed on this thread instead.
  std::thread reaper_;
  std::condition_variable reaper_cv_;
  std::vector<std::unique_ptr<Subscription>> retired_;
  bool reaper_stop_ = false;
};

}  // namespace ferry
