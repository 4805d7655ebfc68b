#include "brokers/nats/nats_subscription.h"

#include <atomic>

namespace ferry::nats_internal {
namespace {

// Core NATS has no acknowledgements: settling records the first call only.
class AtMostOnceAcker final : public Acker {
 public:
  Status Ack() override { return Settle(); }
  Status Nack(std::chrono::milliseconds) override { return Settle(); }
  Status Term() override { return Settle(); }
  bool Redelivers() const override { return false; }

 private:
  Status Settle() {
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    return Status::Ok();
  }
  std::atomic<bool> settled_{false};
};

// A JetStream delivery: the message stays alive until it is settled.
class JetStreamAcker final : public Acker {
 public:
  explicit JetStreamAcker(natsMsg* msg) : msg_(msg) {}
  Status Ack() override { return Settle(natsMsg_Ack(msg_.get(), nullptr), "ack"); }
  Status Nack(std::chrono::milliseconds delay) override {
    return Settle(natsMsg_NakWithDelay(msg_.get(), delay.count(), nullptr), "nak");
  }
  Status Term() override { return Settle(natsMsg_Term(msg_.get(), nullptr), "term"); }

 private:
  Status Settle(natsStatus s, const char* what) {
    // natsMsg_* refuse a second acknowledgement themselves; keep one error text.
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    if (s != NATS_OK) return NatsError(s, what);
    return Status::Ok();
  }
  MsgPtr msg_;
  std::atomic<bool> settled_{false};
};

}  // namespace

void OnJetStreamMessage(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  auto* self = static_cast<SubState*>(closure);
  std::lock_guard lock(self->mutex);
  if (self->closed) {
    natsMsg_Destroy(raw);  // unacknowledged: the server delivers it again
    return;
  }
  Delivery d;
  d.message = ToMessage(raw, /*stored=*/true);
  d.pattern = self->options.pattern;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, raw) == NATS_OK) {
    d.attempt = static_cast<std::uint32_t>(meta->NumDelivered);
    jsMsgMetaData_Destroy(meta);
  }
  auto acker = std::make_shared<JetStreamAcker>(raw);
  if (self->options.manual_ack) d.acker = acker;
  self->handler(std::move(d));
  if (!self->options.manual_ack) (void)acker->Ack();
}

namespace {

class NatsSubscription final : public Subscription {
 public:
  NatsSubscription(SubState* state, SubscriptionPtr sub, bool keep_consumer = false)
      : state_(state), sub_(std::move(sub)), keep_consumer_(keep_consumer) {}
  ~NatsSubscription() override {
    {
      // Waits for a running handler; none starts after this.
      std::lock_guard lock(state_->mutex);
      state_->closed = true;
    }
    if (!keep_consumer_) natsSubscription_Unsubscribe(sub_.get());
  }

 private:
  SubState* state_;
  SubscriptionPtr sub_;
  bool keep_consumer_;
};

}  // namespace

void SubState::OnMessage(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  MsgPtr msg(raw);
  auto* self = static_cast<SubState*>(closure);
  std::lock_guard lock(self->mutex);
  if (self->closed) return;
  Delivery d;
  d.message = ToMessage(msg.get());
  d.pattern = self->options.pattern;
  if (self->options.manual_ack) d.acker = std::make_shared<AtMostOnceAcker>();
  self->handler(std::move(d));
}

std::unique_ptr<Subscription> MakeSubscription(SubState* state, SubscriptionPtr sub, bool keep_consumer) {
  return std::make_unique<NatsSubscription>(state, std::move(sub), keep_consumer);
}

}  // namespace ferry::nats_internal
