// One Ferry subscription on the MQTT adapter: a bounded queue filled by the
// receiving network thread (and by the adapter's own redeliveries, MQTT
// having no negative acknowledgement) and a thread that hands deliveries to
// the handler while fewer than max_in_flight are unsettled.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "brokers/broker.h"
#include "core/timer.h"

namespace ferry::mqtt {

// Deliveries a subscription buffers before the receiving connection's
// network thread waits for room (and with it the server).
inline constexpr std::size_t kQueueCapacity = 64;

struct Queued {
  Message message;
  std::uint32_t attempt = 1;
};

struct LocalSub {
  SubscribeOptions options;
  DeliveryHandler handler;
  std::string filter;  // its key in MqttBroker::filters_

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Queued> queue;
  std::uint32_t in_flight = 0;
  bool paused = false;  // hands out nothing more; the buffer fills, the server holds the rest
  bool stopping = false;
  std::thread thread;
  std::weak_ptr<LocalSub> self;

  // Waits for room (receiving network thread). False once stopping.
  bool Push(Queued q) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return stopping || queue.size() < kQueueCapacity; });
    if (stopping) return false;
    queue.push_back(std::move(q));
    changed.notify_all();
    return true;
  }
  // A redelivery coming back: it gives back the in-flight slot its nack
  // kept, and never waits (it was accepted once already).
  void Requeue(Queued q) {
    std::lock_guard lock(mutex);
    if (in_flight > 0) --in_flight;
    if (!stopping) queue.push_back(std::move(q));
    changed.notify_all();
  }
  // Parked messages: accepted once already, never wait.
  void PushNow(Queued q) {
    std::lock_guard lock(mutex);
    if (stopping) return;
    queue.push_back(std::move(q));
    changed.notify_all();
  }
  void Stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
      queue.clear();  // already acknowledged to the server: these are lost
    }
    changed.notify_all();
  }
  void Run(Timer& timer);
};

}  // namespace ferry::mqtt
