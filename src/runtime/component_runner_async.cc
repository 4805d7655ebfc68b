// The worker of an async-shape component (WASI 0.3): one instance with up
// to max_concurrent_per_instance handle calls in flight. The worker feeds
// it: it takes a delivery when a slot is free and starts the call; the
// call's end is settled on the instance's own thread, which passes the slot
// straight on to the next queued delivery while there is one, so a busy
// instance does not wait for the worker to wake. A handler waiting on a
// send or a request holds a slot, not a thread.
#include <spdlog/spdlog.h>

#include "core/thread_name.h"
#include "core/trace_context.h"
#include "runtime/component_runner.h"
#include "runtime/log_context.h"

namespace ferry {

struct ComponentRunner::AsyncSlots {
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t in_flight = 0;

  void Release() {
    std::lock_guard lock(mutex);
    --in_flight;
    cv.notify_all();
  }
};

void ComponentRunner::FinishAsync(Delivery& delivery, const wasm::CallOutcome& outcome) {
  if (outcome.failure == wasm::CallFailure::kCancelled) {
    // Stopped at shutdown before it ended: back to the broker, untried.
    GiveBack(delivery);
  } else if (outcome.status.ok()) {
    CountTopic(delivery, TopicCounters::kHandled);
    settler_.Handled(delivery);
  } else {
    CountTopic(delivery, TopicCounters::kFailed);
    Failure kind = Failure::kTrap;
    switch (outcome.failure) {
      case wasm::CallFailure::kTimeout: kind = Failure::kTimeout; break;
      case wasm::CallFailure::kFuel: kind = Failure::kFuel; break;
      case wasm::CallFailure::kMemory: kind = Failure::kMemory; break;
      case wasm::CallFailure::kUnavailable: kind = Failure::kUnavailable; break;
      case wasm::CallFailure::kError: kind = Failure::kError; break;
      default: break;
    }
    settler_.Failed(delivery, kind, outcome.status.error());
  }
  Done();
}

void ComponentRunner::StartAsync(wasm::GuestInstance& instance, Delivery delivery,
                                 const std::shared_ptr<AsyncSlots>& slots) {
  // The call's span lives as long as the call: its sends are stamped with
  // it on the instance's thread.
  struct Held {
    Delivery delivery;
    std::optional<TraceSpan> span;
  };
  auto held = std::make_shared<Held>(Held{std::move(delivery), std::nullopt});
  held->span = SpanFor(held->delivery.message, tracing_);
  const auto started = Clock::now();
  const wasm::Inbound in{&held->delivery.message, &broker_, held->span ? &*held->span : nullptr};
  // The instance's thread (or this one, for a poisoned instance): not under
  // the slots' lock. The instance outlives its calls: the worker destroys
  // it only with none in flight, or past the drain deadline, when the calls
  // end cancelled and nothing is chained.
  instance.Start(in, [this, &instance, held, slots, started](wasm::CallOutcome outcome) {
    const auto took = Clock::now() - started;
    durations_.Observe(took);
    if (held->span) FinishSpan(*held->span, held->delivery.message.topic, 1, outcome, took);
    FinishAsync(held->delivery, outcome);
    const bool chain = outcome.failure != wasm::CallFailure::kCancelled &&
                       !draining_past_deadline_.load(std::memory_order_relaxed) && !instance.poisoned();
    std::optional<Delivery> next;
    if (chain) next = queue_.PopUntil(Clock::time_point::min());
    if (next) StartAsync(instance, std::move(*next), slots);  // the slot passes on
    else slots->Release();
  });
}

void ComponentRunner::AsyncWorkerLoop(std::unique_ptr<wasm::GuestInstance> instance) {
  NameThisThread("w:" + config_.name);
  log_context.component = &config_.name;
  const std::size_t max = config_.max_concurrent_per_instance;
  auto slots = std::make_shared<AsyncSlots>();
  std::vector<std::unique_ptr<wasm::GuestInstance>> retired;
  // Waits until no call is in flight, or the drain deadline has passed.
  auto wait_idle = [&] {
    std::unique_lock lock(slots->mutex);
    while (slots->in_flight > 0 && !draining_past_deadline_.load())
      slots->cv.wait_for(lock, std::chrono::milliseconds(50));
  };
  while (true) {
    {
      std::unique_lock lock(slots->mutex);
      slots->cv.wait(lock, [&] { return slots->in_flight < max; });
    }
    auto next = queue_.Pop();
    if (!next) break;
    Delivery delivery = std::move(*next);
    if (draining_past_deadline_.load(std::memory_order_relaxed)) {
      GiveBack(delivery);
      Done();
      continue;
    }
    if (!instance || instance->poisoned()) {
      // A trap ended the instance and failed its calls in flight; their
      // ends are still being settled on its thread. Start over once they are.
      wait_idle();
      // Kept until the worker ends: destroying it waits for broker
      // operations its failed calls started (bounded by their deadlines),
      // which must not hold up the calls that follow.
      if (instance) retired.push_back(std::move(instance));
      auto fresh = NewInstance();
      if (!fresh.ok()) {
        spdlog::error("{}: cannot make a new instance: {}", config_.name, fresh.error().message());
        settler_.Failed(delivery, Failure::kUnavailable, fresh.error());
        Done();
        continue;
      }
      instance = std::move(fresh).value();
    }
    {
      std::lock_guard lock(slots->mutex);
      ++slots->in_flight;
    }
    StartAsync(*instance, std::move(delivery), slots);
  }
  // The queue is closed: the calls in flight may end until the drain
  // deadline; destroying the instance then ends the rest as cancelled,
  // which gives them back to the broker.
  wait_idle();
  instance.reset();
  retired.clear();
}

}  // namespace ferry
