#include "brokers/rabbitmq/rabbitmq_sub.h"

#include <atomic>

namespace ferry::amqp {
namespace {

// Attempt counts remembered for nacked messages, per subscription.
constexpr std::size_t kMaxRemembered = 10000;

enum class Settlement { kAck, kRequeue, kReject };

// Posts the settlement to the I/O thread, which sends it only if the
// delivery's channel is still the subscription's (else the server has
// requeued the delivery already and will deliver it again).
void Send(const std::shared_ptr<Link>& link, std::weak_ptr<Sub> weak, std::uint64_t epoch,
          std::uint64_t tag, Settlement how) {
  Link* l = link.get();
  link->Post([l, weak = std::move(weak), epoch, tag, how] {
    auto sub = weak.lock();
    if (!sub || sub->epoch != epoch || !l->conn()) return;
    int rc = AMQP_STATUS_OK;
    switch (how) {
      case Settlement::kAck: rc = amqp_basic_ack(l->conn(), sub->channel, tag, 0); break;
      case Settlement::kRequeue: rc = amqp_basic_nack(l->conn(), sub->channel, tag, 0, 1); break;
      case Settlement::kReject: rc = amqp_basic_reject(l->conn(), sub->channel, tag, 0); break;
    }
    if (rc != AMQP_STATUS_OK) l->Broke(StatusError(rc, "settling a delivery"));
  });
}

class RabbitAcker final : public Acker {
 public:
  RabbitAcker(std::weak_ptr<Sub> sub, std::shared_ptr<Link> link, std::weak_ptr<Timer> timer,
              const Received& r)
      : sub_(std::move(sub)), link_(std::move(link)), timer_(std::move(timer)), tag_(r.tag),
        epoch_(r.epoch), attempt_(r.attempt), message_id_(r.message_id) {}

  Status Ack() override { return Settle(Settlement::kAck, {}); }
  Status Term() override { return Settle(Settlement::kReject, {}); }
  // Held for the delay (keeping its prefetch slot), then nacked with requeue.
  Status Nack(std::chrono::milliseconds delay) override {
    return Settle(Settlement::kRequeue, delay);
  }

 private:
  Status Settle(Settlement how, std::chrono::milliseconds delay) {
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    if (!link_->connected())
      return Error::Connection("the connection to RabbitMQ was lost; the server delivers the "
                               "message again");
    if (how == Settlement::kRequeue && !message_id_.empty())
      if (auto sub = sub_.lock()) {
        std::lock_guard lock(sub->mutex);
        if (sub->attempts.size() < kMaxRemembered) sub->attempts[message_id_] = attempt_ + 1;
      }
    auto timer = timer_.lock();
    if (how != Settlement::kRequeue || delay.count() <= 0 || !timer) {
      Send(link_, sub_, epoch_, tag_, how);
      return Status::Ok();
    }
    timer->After(delay, [link = link_, sub = sub_, epoch = epoch_, tag = tag_, how] {
      Send(link, sub, epoch, tag, how);
    });
    return Status::Ok();
  }

  std::weak_ptr<Sub> sub_;
  std::shared_ptr<Link> link_;
  std::weak_ptr<Timer> timer_;
  std::uint64_t tag_, epoch_;
  std::uint32_t attempt_;
  std::string message_id_;
  std::atomic<bool> settled_{false};
};

}  // namespace

void Sub::Push(Received r) {
  {
    std::lock_guard lock(mutex);
    if (stopping) return;  // unacked: the server requeues it when the channel closes
    pending.push_back(std::move(r));
  }
  changed.notify_all();
}

void Sub::Stop() {
  {
    std::lock_guard lock(mutex);
    stopping = true;
    pending.clear();  // never acked: the server delivers them again
  }
  changed.notify_all();
}

std::uint32_t Sub::AttemptOf(const std::string& message_id, bool redelivered) {
  if (!redelivered) return 1;
  std::lock_guard lock(mutex);
  if (auto it = attempts.find(message_id); !message_id.empty() && it != attempts.end()) {
    const std::uint32_t a = it->second;
    attempts.erase(it);
    return a;
  }
  return 2;
}

void Sub::Run(std::weak_ptr<Sub> self, std::shared_ptr<Link> link, std::shared_ptr<Timer> timer) {
  std::unique_lock lock(mutex);
  while (true) {
    changed.wait(lock, [&] { return stopping || (!paused && !pending.empty()); });
    if (stopping) return;
    Received r = std::move(pending.front());
    pending.pop_front();
    Delivery d;
    d.attempt = r.attempt;
    d.pattern = options.pattern;
    if (options.manual_ack) d.acker = std::make_shared<RabbitAcker>(self, link, timer, r);
    d.message = std::move(r.message);
    lock.unlock();
    handler(std::move(d));
    if (!options.manual_ack) Send(link, self, r.epoch, r.tag, Settlement::kAck);
    lock.lock();
  }
}

}  // namespace ferry::amqp
