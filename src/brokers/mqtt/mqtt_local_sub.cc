#include "brokers/mqtt/mqtt_local_sub.h"

#include <atomic>

namespace ferry::mqtt {
namespace {

class MqttAcker final : public Acker {
 public:
  MqttAcker(std::weak_ptr<LocalSub> sub, Queued copy, Timer& timer)
      : sub_(std::move(sub)), copy_(std::move(copy)), timer_(timer) {}
  Status Ack() override { return Settle(false, {}); }
  Status Term() override { return Settle(false, {}); }
  // MQTT has no negative acknowledgement and the server has its PUBACK
  // already: the adapter delivers the message again itself.
  Status Nack(std::chrono::milliseconds delay) override { return Settle(true, delay); }

 private:
  Status Settle(bool redeliver, std::chrono::milliseconds delay) {
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    auto sub = sub_.lock();
    if (!sub) return Status::Ok();
    // A delivery to be redelivered keeps its in-flight slot until the timer
    // queues it again, so at most max_in_flight are out or waiting and the
    // timer holds no more than that per subscription.
    if (!redeliver) {
      {
        std::lock_guard lock(sub->mutex);
        if (sub->in_flight > 0) --sub->in_flight;
      }
      sub->changed.notify_all();
      return Status::Ok();
    }
    Queued again = copy_;
    ++again.attempt;
    timer_.After(delay, [weak = sub_, again = std::move(again)]() mutable {
      if (auto s = weak.lock()) s->Requeue(std::move(again));
    });
    return Status::Ok();
  }

  std::weak_ptr<LocalSub> sub_;
  Queued copy_;  // payload bytes are shared, not copied
  Timer& timer_;
  std::atomic<bool> settled_{false};
};

}  // namespace

void LocalSub::Run(Timer& timer) {
  std::unique_lock lock(mutex);
  while (true) {
    changed.wait(lock, [&] {
      return stopping || (!paused && !queue.empty() &&
                          (!options.manual_ack || in_flight < options.max_in_flight));
    });
    if (stopping) return;
    Queued q = std::move(queue.front());
    queue.pop_front();
    changed.notify_all();  // room for the network thread
    Delivery d;
    d.attempt = q.attempt;
    d.pattern = options.pattern;
    if (options.manual_ack) {
      ++in_flight;
      d.acker = std::make_shared<MqttAcker>(self, q, timer);
    }
    d.message = std::move(q.message);
    lock.unlock();
    handler(std::move(d));
    lock.lock();
  }
}


}  // namespace ferry::mqtt
