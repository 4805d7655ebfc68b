#include "runtime/component_runner.h"

#include <spdlog/spdlog.h>

#include "core/thread_name.h"
#include "core/topic.h"
#include "core/trace_context.h"
#include "runtime/log_context.h"
#include "runtime/span_exporter.h"

namespace ferry {
namespace {

Failure FailureOf(wasm::CallFailure failure) {
  switch (failure) {
    case wasm::CallFailure::kTimeout: return Failure::kTimeout;
    case wasm::CallFailure::kFuel: return Failure::kFuel;
    case wasm::CallFailure::kMemory: return Failure::kMemory;
    case wasm::CallFailure::kTrap: return Failure::kTrap;
    case wasm::CallFailure::kUnavailable:
    case wasm::CallFailure::kCancelled: return Failure::kUnavailable;
    case wasm::CallFailure::kError:
    case wasm::CallFailure::kNone: return Failure::kError;
  }
  return Failure::kError;
}

}  // namespace

ComponentRunner::ComponentRunner(config::ComponentConfig config,
                                 std::shared_ptr<wasm::CompiledComponent> compiled,
                                 std::shared_ptr<const wasm::GuestServices> services,
                                 Broker& broker, std::uint32_t queue_depth,
                                 std::shared_ptr<InFlightBudget> budget)
    : config_(std::move(config)),
      compiled_(std::move(compiled)),
      broker_(broker),
      fresh_instances_(compiled_->takes_batches() && !config_.reuse_instances),
      batch_size_(compiled_->takes_batches() ? config_.batch_size : 1),
      queue_(queue_depth),
      settler_(config_.name,
               DeliveryPolicy{.max_attempts = config_.max_attempts,
                              .retry_delay = config_.retry_delay,
                              .max_retry_delay = config_.max_retry_delay,
                              .dead_letter = config_.dead_letter},
               broker, counters_,
               [this](Delivery d, std::chrono::milliseconds delay) {
                 ++d.attempt;  // held as the attempt it will be
                 if (stopping_.load() && !hand_over_.load()) {
                   settler_.Shutdown(d);
                   return;
                 }
                 hold_.Keep(std::move(d), delay);
               }),
      budget_(std::move(budget)),
      hold_([this](Delivery d) { RunHeld(std::move(d)); }),
      awaiting_([this](std::vector<Delivery>& d, const Status& outcome) {
        SettleConfirmed(d, outcome);
      }) {
  auto own = std::make_shared<wasm::GuestServices>(*services);
  if (compiled_->takes_batches())
    own->reconfigure = [this](const wasm::GuestConfiguration& gc) { return Reconfigure(gc); };
  services_ = std::move(own);
  if (!compiled_->takes_batches() && config_.batch_size > 1)
    spdlog::warn("{}: batch_size is ignored: its handler takes one message at a time",
                 config_.name);
}

ComponentRunner::~ComponentRunner() {
  StopIntake(Clock::now());
  Drain(Clock::now());
}

Status ComponentRunner::Start() {
  const std::string who = "component " + config_.name;
  std::vector<std::unique_ptr<wasm::GuestInstance>> instances;
  for (std::uint32_t i = 0; i < config_.workers; ++i) {
    auto instance = NewInstance();
    if (!instance.ok()) return instance.error().WithContext(who);
    instances.push_back(std::move(instance).value());
  }
  // configure() runs on an instance of its own, thrown away afterwards.
  std::optional<wasm::GuestConfiguration> asked;
  {
    auto instance = NewInstance();
    if (!instance.ok()) return instance.error().WithContext(who);
    auto configured = (*instance)->Configure();
    if (!configured.ok()) return configured.error().WithContext(who);
    asked = std::move(configured).value();
  }
  if (asked) {
    for (const std::string& channel : asked->channels) {
      Status valid = GuestMaySubscribe(channel);
      if (!valid.ok())
        return valid.error().WithContext(who + ": configure asked for channel '" + channel + "'");
    }
  }

  reaper_ = std::thread([this] { ReaperLoop(); });
  for (auto& instance : instances) {
    if (compiled_->concurrent())
      workers_.emplace_back([this, inst = std::move(instance)]() mutable { AsyncWorkerLoop(std::move(inst)); });
    else
      workers_.emplace_back([this, inst = std::move(instance)]() mutable { WorkerLoop(std::move(inst)); });
  }

  std::lock_guard lock(subs_mutex_);
  for (const std::string& pattern : config_.subscriptions) {
    if (configured_subs_.count(pattern)) continue;
    auto sub = SubscribeTo(pattern);
    if (!sub.ok()) return sub.error().WithContext(who + ": subscribing to " + pattern);
    configured_subs_.emplace(pattern, std::move(sub).value());
  }
  if (asked) {
    for (const auto& [k, v] : asked->extensions) guest_extensions_[k] = v;
    for (const std::string& channel : asked->channels) {
      if (configured_subs_.count(channel) || guest_subs_.count(channel)) continue;
      auto sub = SubscribeTo(channel);
      if (!sub.ok()) return sub.error().WithContext(who + ": subscribing to " + channel);
      guest_subs_.emplace(channel, std::move(sub).value());
    }
  }
  return Status::Ok();
}

// Caller holds subs_mutex_.
Result<ComponentRunner::Sub> ComponentRunner::SubscribeTo(const std::string& pattern) {
  SubscribeOptions options;
  options.pattern = pattern;
  options.queue_group = config_.queue_group;
  options.hand_over_key = config_.name;
  // What ferry.toml says wins over what the guest asked for.
  options.extensions = guest_extensions_;
  for (const auto& [k, v] : config_.extensions) options.extensions[k] = v;
  // Enough unsettled deliveries to keep every worker and the queue busy.
  const std::size_t per_worker =
      compiled_->concurrent() ? config_.max_concurrent_per_instance : batch_size_;
  options.max_in_flight =
      static_cast<std::uint32_t>(queue_.capacity_hint() + config_.workers * per_worker);
  auto live = std::make_shared<std::atomic<bool>>(true);
  options.try_handler = [this, live](Delivery& d) {
    return live->load(std::memory_order_acquire) && TryOnDelivery(d);
  };
  auto sub = broker_.Subscribe(options, [this, live](Delivery d) {
    if (live->load(std::memory_order_acquire)) {
      OnDelivery(std::move(d));
    } else if (d.acker) {
      // Not ours any more. A broker that redelivers to this same
      // subscription gets it back only after a pause, until it is gone.
      (void)d.acker->Nack(std::chrono::seconds(1));
    }
  });
  if (!sub.ok()) return sub.error();
  spdlog::info("{}: subscribed to {} on {}", config_.name, pattern, broker_.DisplayUrl());
  return Sub{std::move(sub).value(), std::move(live)};
}

void ComponentRunner::Retire(Sub sub) {
  sub.live->store(false, std::memory_order_release);
  retired_.push_back(std::move(sub.subscription));
  reaper_cv_.notify_all();
}

Status ComponentRunner::GuestMaySubscribe(const std::string& channel) const {
  FERRY_RETURN_IF_ERROR(ValidatePattern(channel));
  // What ferry.toml subscribes the component to is granted by being there.
  for (const std::string& pattern : config_.subscriptions)
    if (PatternCovers(pattern, channel)) return Status::Ok();
  return wasm::Allowed(*services_, wasm::Use::kSubscribe, channel);
}

Status ComponentRunner::Reconfigure(const wasm::GuestConfiguration& gc) {
  for (const std::string& channel : gc.channels) FERRY_RETURN_IF_ERROR(GuestMaySubscribe(channel));
  std::lock_guard lock(subs_mutex_);
  if (intake_stopped_) return Error::Cancelled("the host is shutting down");
  guest_extensions_.clear();
  for (const auto& [k, v] : gc.extensions) guest_extensions_[k] = v;
  std::set<std::string> wanted;
  for (const std::string& channel : gc.channels)
    if (!configured_subs_.count(channel)) wanted.insert(channel);

  std::vector<std::string> added;
  for (const std::string& channel : wanted) {
    if (guest_subs_.count(channel)) continue;
    auto sub = SubscribeTo(channel);
    if (!sub.ok()) {
      // All or nothing: undo what this call added.
      for (const std::string& a : added) {
        Retire(std::move(guest_subs_[a]));
        guest_subs_.erase(a);
      }
      return sub.error().WithContext("subscribing to " + channel);
    }
    guest_subs_.emplace(channel, std::move(sub).value());
    added.push_back(channel);
  }
  for (auto it = guest_subs_.begin(); it != guest_subs_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("{}: unsubscribed from {}", config_.name, it->first);
    Retire(std::move(it->second));
    it = guest_subs_.erase(it);
  }
  return Status::Ok();
}

std::vector<std::string> ComponentRunner::Subscriptions() const {
  std::lock_guard lock(subs_mutex_);
  std::vector<std::string> out;
  for (const auto& [pattern, sub] : configured_subs_) out.push_back(pattern);
  for (const auto& [pattern, sub] : guest_subs_) out.push_back(pattern);
  return out;
}

void ComponentRunner::ReaperLoop() {
  std::unique_lock lock(subs_mutex_);
  while (true) {
    reaper_cv_.wait(lock, [&] { return reaper_stop_ || !retired_.empty(); });
    std::vector<std::unique_ptr<Subscription>> doomed;
    doomed.swap(retired_);
    if (doomed.empty() && reaper_stop_) return;
    lock.unlock();
    doomed.clear();  // may wait for a delivery callback; never under the lock
    lock.lock();
  }
}

bool ComponentRunner::Admit() {
  if (budget_ && !budget_->Acquire(stopping_)) return false;
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ComponentRunner::Done(std::size_t n) {
  in_flight_.fetch_sub(n, std::memory_order_relaxed);
  if (!budget_) return;
  for (std::size_t i = 0; i < n; ++i) budget_->Release();
}

void ComponentRunner::OnDelivery(Delivery delivery) {
  // Retries Ferry holds itself count against the queue's depth: a broker
  // that cannot redeliver is held back while they fill it, so a handler
  // failing everything cannot grow the hold without bound.
  if (!hold_.WaitForRoom(queue_.capacity_hint(), stopping_)) {
    GiveBack(delivery);
    return;
  }
  Accept(std::move(delivery));
}

void ComponentRunner::Accept(Delivery delivery) {
  if (!Admit()) {
    GiveBack(delivery);
    return;
  }
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  CountTopic(delivery, TopicCounters::kReceived);
  if (auto rejected = queue_.Push(std::move(delivery))) {
    GiveBack(*rejected);
    Done();
  }
}

// On the hold's own thread: never waits for the hold's room.
void ComponentRunner::RunHeld(Delivery delivery) { Accept(std::move(delivery)); }

void ComponentRunner::GiveBack(Delivery& delivery) {
  if (settler_.CanRelease(delivery)) {
    settler_.Release(delivery);
  } else if (hand_over_.load()) {
    settler_.Forget(delivery);
    hold_.Keep(std::move(delivery), std::chrono::milliseconds(0));
  } else {
    settler_.Shutdown(delivery);
  }
}

void ComponentRunner::Adopt(Delivery delivery, std::chrono::milliseconds delay) {
  hold_.Keep(std::move(delivery), delay);
}

bool ComponentRunner::TryOnDelivery(Delivery& delivery) {
  if (stopping_.load(std::memory_order_relaxed)) return false;
  if (hold_.size() >= queue_.capacity_hint()) return false;
  if (budget_ && !budget_->TryAcquire()) return false;
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  // Counted first, as OnDelivery does, so `received` never trails `handled`.
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  if (topics_) {
    // Before the push: the delivery is the queue's after it.
    const std::string topic = delivery.message.topic;
    if (!queue_.TryPush(delivery)) {
      counters_.received.fetch_sub(1, std::memory_order_relaxed);
      Done();
      return false;
    }
    topics_->Count(topic, TopicCounters::kReceived);
    return true;
  }
  if (!queue_.TryPush(delivery)) {
    counters_.received.fetch_sub(1, std::memory_order_relaxed);
    Done();
    return false;
  }
  return true;
}

bool ComponentRunner::NextBatch(std::vector<Delivery>& batch) {
  auto first = queue_.Pop();
  if (!first) return false;
  batch.push_back(std::move(*first));
  if (batch_size_ <= 1) return true;  // the usual case: no clock read for a linger
  const Deadline linger_until = Clock::now() + config_.batch_linger;
  while (batch.size() < batch_size_) {
    auto next = queue_.PopUntil(linger_until);
    if (!next) break;
    batch.push_back(std::move(*next));
  }
  return true;
}

void ComponentRunner::WorkerLoop(std::unique_ptr<wasm::GuestInstance> instance) {
  NameThisThread("w:" + config_.name);
  log_context.component = &config_.name;
  // Reused: no allocation per call. `batch` is emptied at the end of each
  // pass, so that nothing of a settled delivery outlives it.
  std::vector<wasm::Inbound> inbound;
  std::vector<Delivery> batch;
  std::vector<Delivery> handled;
  while (true) {
    if (!NextBatch(batch)) return;
    if (draining_past_deadline_.load(std::memory_order_relaxed)) {
      for (Delivery& d : batch) GiveBack(d);
      Done(batch.size());
      batch.clear();
      continue;
    }
    if (!instance || instance->poisoned()) {
      // A trap leaves an instance unusable: start over with a fresh one.
      auto fresh = NewInstance();
      if (!fresh.ok()) {
        spdlog::error("{}: cannot make a new instance: {}", config_.name, fresh.error().message());
        for (Delivery& d : batch) settler_.Failed(d, Failure::kUnavailable, fresh.error());
        Done(batch.size());
        batch.clear();
        continue;
      }
      instance = std::move(fresh).value();
    }
    inbound.clear();
    for (const Delivery& d : batch) inbound.push_back({&d.message, &broker_});
    const TopicLogScope topic(&batch.front().message.topic);
    // A batch is one call: one span, the first message's trace.
    const std::optional<TraceSpan> span = SpanFor(batch.front().message, tracing_);
    current_span = span ? &*span : nullptr;
    // The guest's sends return once in the broker's window; what it handled
    // is acked only when they are all confirmed (AwaitingConfirms).
    auto sends = PendingSends::Make();
    instance->TrackSends(sends);
    const auto started = Clock::now();
    wasm::CallOutcome outcome = instance->Handle(inbound, started);
    const auto took = Clock::now() - started;
    instance->TrackSends(nullptr);
    current_span = nullptr;
    durations_.Observe(took);
    if (span) FinishSpan(*span, batch.front().message.topic, batch.size(), outcome, took);
    std::size_t settled = 0;  // `handled` is empty: Park takes what it holds
    for (std::size_t i = 0; i < batch.size(); ++i) {
      switch (outcome.verdicts[i]) {
        case wasm::Verdict::kComplete:
          CountTopic(batch[i], TopicCounters::kHandled);
          handled.push_back(std::move(batch[i]));
          break;
        case wasm::Verdict::kAbandon:
          CountTopic(batch[i], TopicCounters::kFailed);
          settler_.Abandoned(batch[i]);
          ++settled;
          break;
        case wasm::Verdict::kNone:
          if (outcome.status.ok()) {
            CountTopic(batch[i], TopicCounters::kHandled);
            handled.push_back(std::move(batch[i]));
          } else {
            CountTopic(batch[i], TopicCounters::kFailed);
            settler_.Failed(batch[i], FailureOf(outcome.failure), outcome.status.error());
            ++settled;
          }
          break;
      }
    }
    Done(settled);
    if (handled.empty()) (void)sends->Seal([](Status) {});  // failed anyway: nothing waits
    else awaiting_.Park(handled, sends);
    batch.clear();
    if (fresh_instances_) {
      // The next call gets a new instance; making it now keeps it off the
      // next message's path. A failure is retried when a message comes.
      instance.reset();
      auto fresh = NewInstance();
      if (fresh.ok()) instance = std::move(fresh).value();
    }
  }
}

void ComponentRunner::FinishSpan(const TraceSpan& span, const std::string& topic, std::size_t messages,
                                 const wasm::CallOutcome& outcome, Clock::duration took) const {
  const std::string failure = outcome.status.ok() ? "" : std::string(FailureName(FailureOf(outcome.failure)));
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  if (tracing_)
    spdlog::info("{}: span trace={} span={} parent={} topic={} outcome={} duration_us={}", config_.name,
                 span.trace_id, span.span_id, span.parent_id.empty() ? "-" : span.parent_id, topic,
                 failure.empty() ? "ok" : failure, micros);
  if (!spans_ || !span.Sampled()) return;
  const auto end = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto length = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
  spans_->Record({.trace_id = span.trace_id,
                  .span_id = span.span_id,
                  .parent_id = span.parent_id,
                  .tracestate = span.tracestate,
                  .component = config_.name,
                  .topic = topic,
                  .start_unix_ns = static_cast<std::uint64_t>(end - length),
                  .end_unix_ns = static_cast<std::uint64_t>(end),
                  .messages = static_cast<std::uint32_t>(messages),
                  .failure = failure});
}

void ComponentRunner::SettleConfirmed(std::vector<Delivery>& deliveries, const Status& outcome) {
  for (Delivery& d : deliveries) {
    if (outcome.ok()) {
      settler_.Handled(d);
    } else {
      // The handler succeeded, but something it sent may never have arrived:
      // a failed attempt, so the policy tries it again (and it sends again).
      settler_.Failed(d, Failure::kError,
                      outcome.error().WithContext("a message it sent was not confirmed by the broker"));
    }
  }
  Done(deliveries.size());
}

void ComponentRunner::StopIntake(Deadline deadline, bool hand_over) {
  if (stop_called_.exchange(true)) return;
  hand_over_ = hand_over;
  stopping_ = true;  // delivery threads waiting for a host-wide slot give up
  hold_.Freeze();
  if (!hand_over) {
    // Retries due within the grace period run now, sooner than their
    // back-off asked: later there is no host to run them.
    for (auto& held : hold_.Take()) {
      if (held.due <= deadline && (!budget_ || budget_->TryAcquire())) {
        counters_.received.fetch_add(1, std::memory_order_relaxed);
        queue_.PushAnyway(std::move(held.delivery));
      } else {
        settler_.Shutdown(held.delivery);
      }
    }
  }
  queue_.Close();
  // A retry the hold was running when frozen is pushed or given back now.
  hold_.WaitIdle();
  if (!hand_over) {
    // Kept by a failure that raced `stopping_`.
    for (auto& held : hold_.Take()) settler_.Shutdown(held.delivery);
  }
  {
    // Subscriptions stay until Drain has settled what they delivered (some
    // brokers settle a message through its subscription); from now on they
    // only hand deliveries back. For a reload, a broker that can (the
    // embedded one) keeps each subscription, with what queues on it, for
    // the next configuration's runner of this component.
    std::lock_guard lock(subs_mutex_);
    intake_stopped_ = true;
    for (auto* subs : {&configured_subs_, &guest_subs_}) {
      for (auto& [pattern, sub] : *subs) {
        const bool kept = hand_over && sub.subscription->HandOver();
        sub.live->store(false, std::memory_order_release);
        if (!kept) sub.subscription->Pause();
      }
    }
    reaper_stop_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
}

void ComponentRunner::DropSubscriptions() {
  std::map<std::string, Sub> configured, guest;
  {
    std::lock_guard lock(subs_mutex_);
    configured.swap(configured_subs_);
    guest.swap(guest_subs_);
  }
  configured.clear();  // waits for delivery callbacks that are running
  guest.clear();
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
        auto left = queue_.TakeAll();
        for (Delivery& d : left) GiveBack(d);
        Done(left.size());
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
  // Handled deliveries whose sends are still unconfirmed at the deadline
  // go back to the broker: redelivered, handled again, sent again (at
  // least once). A confirmation arriving later changes nothing.
  auto unconfirmed = awaiting_.WaitEmpty(deadline);
  if (!unconfirmed.empty())
    spdlog::warn("{}: {} handled message(s) released at shutdown: the broker had not confirmed "
                 "what they sent",
                 config_.name, unconfirmed.size());
  for (Delivery& d : unconfirmed) GiveBack(d);
  Done(unconfirmed.size());
  awaiting_.Stop();
  DropSubscriptions();
}

Result<std::unique_ptr<wasm::GuestInstance>> ComponentRunner::NewInstance() {
  instances_created_.fetch_add(1, std::memory_order_relaxed);
  return compiled_->Instantiate(services_);
}

ComponentSnapshot ComponentRunner::Snapshot() const {
  ComponentSnapshot s;
  s.name = config_.name;
  s.broker = config_.broker;
  const DeliveryCounters& c = counters_;
  s.received = c.received.load();
  s.handled = c.handled.load();
  s.failed = c.failed.load();
  s.abandoned = c.abandoned.load();
  s.retried = c.retried.load();
  s.given_up = c.given_up.load();
  s.dead_lettered = c.dead_lettered.load();
  s.released = c.released.load();
  s.settle_failed = c.settle_failed.load();
  for (std::size_t i = 0; i < kFailureKinds; ++i) s.failed_by[i] = c.failed_by[i].load();
  s.in_flight = in_flight_.load();
  s.queue_depth = queue_.size();
  s.instances_created = instances_created_.load();
  s.durations = durations_.Read();
  if (topics_) s.topics = topics_->Read();
  return s;
}

}  // namespace ferry
