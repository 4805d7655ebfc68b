#include "brokers/rabbitmq/rabbitmq_broker.h"

#include <algorithm>
#include <charconv>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/rabbitmq/amqp_link.h"
#include "brokers/rabbitmq/amqp_message.h"
#include "brokers/rabbitmq/rabbitmq_sub.h"
#include "brokers/reply_wait.h"
#include "core/timer.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using amqp::Link;
using amqp::Sub;

constexpr const char* kDirectReplyTo = "amq.rabbitmq.reply-to";
constexpr auto kCallLimit = 10s;  // a declare or cancel on the I/O thread

std::string Display(const RabbitMqOptions& o) {
  std::string vhost = o.vhost == "/" ? "" : o.vhost;
  return fmt::format("{}://{}:{}/{}", o.tls ? "amqps" : "amqp", o.host, o.port, vhost);
}

class RabbitMqBroker;

class RabbitMqSubscription final : public Subscription {
 public:
  RabbitMqSubscription(RabbitMqBroker& broker, std::shared_ptr<Sub> sub)
      : broker_(broker), sub_(std::move(sub)) {}
  ~RabbitMqSubscription() override;
  // No more deliveries to the handler; those made can still be settled. The
  // prefetched rest goes back to the queue when the channel closes.
  void Pause() override {
    {
      std::lock_guard lock(sub_->mutex);
      sub_->paused = true;
    }
    sub_->changed.notify_all();
  }

 private:
  RabbitMqBroker& broker_;
  std::shared_ptr<Sub> sub_;
};

class RabbitMqBroker final : public Broker {
 public:
  explicit RabbitMqBroker(RabbitMqOptions options)
      : options_(std::move(options)), display_(Display(options_)) {}
  ~RabbitMqBroker() override { Close(); }

  std::string DisplayUrl() const override { return display_; }
  BrokerCapabilities Capabilities() const override {
    return {.headers = true, .native_request_reply = true, .queue_groups = true,
            .redelivery = true, .durable = options_.persistent};
  }
  Status Connect() override;
  void Close() override;
  ConnectionState State() const override { return state_.load(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    on_state_ = std::move(callback);
  }
  Status Publish(const Message& message, Deadline deadline) override {
    auto dest = amqp::ParseDestination(message.topic, options_.exchange);
    if (!dest.ok()) return dest.error();
    return Send(*dest, message, {}, deadline);
  }
  // Into the publishing link's window; done at the publisher confirm.
  Status PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) override {
    auto dest = amqp::ParseDestination(message.topic, options_.exchange);
    if (!dest.ok()) return dest.error();
    auto link = PublishingLink();
    if (!link || state_.load() == ConnectionState::kClosed || !link->connected())
      return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
    auto props = amqp::OutgoingProperties::Make(
        message, options_.persistent, std::string(), dest->correlation_id,
        id_prefix_ + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed)));
    if (!props.ok()) return props.error();
    return link->PublishAsync(dest->exchange, dest->routing_key, message.data,
                              [p = std::move(*props)](amqp_basic_properties_t& out) { p->Fill(out); },
                              deadline, std::move(done));
  }
  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override;
  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override;

  void Remove(const std::shared_ptr<Sub>& sub);

 private:
  std::shared_ptr<Link> PublishingLink() const {
    std::lock_guard lock(connect_mutex_);
    return pub_;
  }

 public:
  std::uint64_t UnconfirmedPublishes() const override {
    auto pub = PublishingLink();
    return pub ? pub->unconfirmed() : 0;
  }

 private:
  Status Send(const amqp::Destination& dest, const Message& message, std::string reply_to,
              Deadline deadline);

  // Publishing link, I/O thread.
  Status SetUpPublishing(Link& link);
  void OnReply(const amqp_envelope_t& envelope);
  // Subscribing link, I/O thread.
  Status Declare(Link& link, const std::shared_ptr<Sub>& sub);
  void OnDelivery(const amqp_envelope_t& envelope);
  void OnSubChannelClosed(Link& link, amqp_channel_t channel, const Error& why);
  void RedeclareLater(std::weak_ptr<Sub> weak);

  // Either link's I/O thread. Until Connect has returned it decides.
  void LinkChanged() {
    const ConnectionState now = state_.load();
    if (now == ConnectionState::kClosed || now == ConnectionState::kConnecting ||
        now == ConnectionState::kDisconnected)
      return;
    const bool up = pub_up_.load() && sub_up_.load();
    SetState(up ? ConnectionState::kConnected : ConnectionState::kReconnecting);
  }
  void SetState(ConnectionState next) {
    if (state_.exchange(next) == next) return;
    if (on_state_) on_state_(next);
  }

  const RabbitMqOptions options_;
  const std::string display_;

  mutable std::mutex connect_mutex_;
  std::shared_ptr<Link> pub_, sub_link_;
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::atomic<bool> pub_up_{false}, sub_up_{false};
  std::function<void(ConnectionState)> on_state_;

  std::mutex subs_mutex_;
  std::vector<std::shared_ptr<Sub>> subs_;
  std::map<amqp_channel_t, std::shared_ptr<Sub>> channels_;  // subscribing I/O thread only
  std::uint64_t next_epoch_ = 1;                              // subscribing I/O thread only

  std::mutex requests_mutex_;
  std::map<std::string, std::shared_ptr<PendingReplies>> requests_;  // by correlation id
  const std::string id_prefix_ = amqp::RandomHex();
  std::atomic<std::uint64_t> next_id_{1};

  // Redeliveries after a delay, and subscriptions declared again.
  std::shared_ptr<Timer> timer_ = std::make_shared<Timer>();
};

Status RabbitMqBroker::Connect() {
  std::lock_guard lock(connect_mutex_);
  if (pub_) return Status::Ok();
  SetState(ConnectionState::kConnecting);
  Link::Callbacks pub_callbacks{
      .on_open = [this](Link& link, bool) -> Status {
        FERRY_RETURN_IF_ERROR(SetUpPublishing(link));
        pub_up_ = true;
        LinkChanged();
        return Status::Ok();
      },
      .on_lost = [this](const Error& why) {
        pub_up_ = false;
        spdlog::warn("{}: publishing connection lost ({}), reconnecting", display_, why.message());
        LinkChanged();
      },
      .on_delivery = [this](const amqp_envelope_t& e) { OnReply(e); },
      .on_channel_closed = [this](Link& link, amqp_channel_t channel, const Error& why) {
        if (channel != amqp::kPublishChannel) return;
        spdlog::warn("{}: the server closed the publishing channel: {}", display_, why.message());
        Status s = link.ReopenPublishChannel();
        if (s.ok()) s = SetUpPublishing(link);
        if (!s.ok()) link.Broke(s.error());
      }};
  Link::Callbacks sub_callbacks{
      .on_open = [this](Link& link, bool first) -> Status {
        if (!first) {
          std::vector<std::shared_ptr<Sub>> subs;
          {
            std::lock_guard subs_lock(subs_mutex_);
            subs = subs_;
          }
          for (const auto& sub : subs) {
            Status s = Declare(link, sub);
            if (!s.ok()) {
              if (!link.conn()) return s;
              spdlog::error("{}: subscribing to {} again: {}", display_, sub->options.pattern,
                            s.error().message());
              RedeclareLater(sub);
            }
          }
        }
        sub_up_ = true;
        LinkChanged();
        return Status::Ok();
      },
      .on_lost = [this](const Error& why) {
        sub_up_ = false;
        for (auto& [channel, sub] : channels_) sub->epoch = 0;
        channels_.clear();
        spdlog::warn("{}: subscribing connection lost ({}), reconnecting", display_, why.message());
        LinkChanged();
      },
      .on_delivery = [this](const amqp_envelope_t& e) { OnDelivery(e); },
      .on_channel_closed = [this](Link& link, amqp_channel_t channel, const Error& why) {
        OnSubChannelClosed(link, channel, why);
      }};
  auto pub = std::make_shared<Link>(options_, display_, "ferry publish", std::move(pub_callbacks));
  auto sub = std::make_shared<Link>(options_, display_, "ferry subscribe", std::move(sub_callbacks));
  Status s = pub->Open();
  if (s.ok()) s = sub->Open();
  if (!s.ok()) {
    pub->Close();
    sub->Close();
    pub_up_ = sub_up_ = false;
    SetState(ConnectionState::kDisconnected);
    return s;
  }
  pub_ = std::move(pub);
  sub_link_ = std::move(sub);
  SetState(pub_up_.load() && sub_up_.load() ? ConnectionState::kConnected
                                            : ConnectionState::kReconnecting);
  return Status::Ok();
}

void RabbitMqBroker::Close() {
  std::lock_guard lock(connect_mutex_);
  if (!pub_) return;
  SetState(ConnectionState::kClosed);
  {
    std::lock_guard subs_lock(subs_mutex_);
    for (auto& sub : subs_) sub->Stop();
  }
  pub_->Close();
  sub_link_->Close();
  pub_up_ = sub_up_ = false;
  // The links stay (subscriptions and ackers may still hold them) but are
  // closed: what they are asked from now on fails at once.
  pub_.reset();
  sub_link_.reset();
}

Status RabbitMqBroker::SetUpPublishing(Link& link) {
  amqp_connection_state_t c = link.conn();
  const std::string& ex = options_.exchange;
  // Built-in exchanges cannot be declared, only checked.
  const bool builtin = ex.starts_with("amq.");
  amqp_exchange_declare(c, amqp::kPublishChannel, amqp::AmqpBytes(ex), amqp_cstring_bytes("topic"),
                        builtin, 1, 0, 0, amqp_empty_table);
  FERRY_RETURN_IF_ERROR(link.CheckRpc(amqp::kPublishChannel, "the exchange '" + ex + "'"));
  FERRY_RETURN_IF_ERROR(link.StartConfirms());
  amqp_basic_consume(c, amqp::kPublishChannel, amqp_cstring_bytes(kDirectReplyTo), amqp_empty_bytes,
                     0, /*no_ack=*/1, 0, amqp_empty_table);
  return link.CheckRpc(amqp::kPublishChannel, "consuming direct replies");
}

Status RabbitMqBroker::Send(const amqp::Destination& dest, const Message& message,
                            std::string reply_to, Deadline deadline) {
  auto link = PublishingLink();
  if (!link || state_.load() == ConnectionState::kClosed || !link->connected())
    return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
  auto props = amqp::OutgoingProperties::Make(
      message, options_.persistent, std::move(reply_to), dest.correlation_id,
      id_prefix_ + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed)));
  if (!props.ok()) return props.error();
  return link->Publish(dest.exchange, dest.routing_key, message.data,
                       [p = std::move(*props)](amqp_basic_properties_t& out) { p->Fill(out); },
                       deadline);
}

void RabbitMqBroker::OnReply(const amqp_envelope_t& envelope) {
  const auto& p = envelope.message.properties;
  if (!(p._flags & AMQP_BASIC_CORRELATION_ID_FLAG)) return;
  std::shared_ptr<PendingReplies> pending;
  {
    std::lock_guard lock(requests_mutex_);
    auto it = requests_.find(amqp::Str(p.correlation_id));
    if (it == requests_.end()) return;  // late: the request is over
    pending = it->second;
  }
  Message reply = amqp::ToMessage(envelope);
  pending->Add(std::move(reply));
}

Status RabbitMqBroker::Declare(Link& link, const std::shared_ptr<Sub>& sub) {
  auto channel = link.OpenChannel();
  if (!channel.ok()) return channel.error();
  const amqp_channel_t ch = *channel;
  amqp_connection_state_t c = link.conn();
  auto fail = [&](Status s) {
    link.CloseChannel(ch);
    return s;
  };
  amqp_basic_qos(c, ch, 0, sub->prefetch, 0);
  if (Status s = link.CheckRpc(ch, "setting the prefetch"); !s.ok()) return fail(s);
  amqp_table_entry_t dlx{};
  amqp_table_t args = amqp_empty_table;
  if (!options_.dead_letter_exchange.empty()) {
    dlx.key = amqp_cstring_bytes("x-dead-letter-exchange");
    dlx.value.kind = AMQP_FIELD_KIND_UTF8;
    dlx.value.value.bytes = amqp::AmqpBytes(options_.dead_letter_exchange);
    args = {1, &dlx};
  }
  const bool named = !sub->queue_name.empty();
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(c, ch, named ? amqp::AmqpBytes(sub->queue_name) : amqp_empty_bytes, 0,
                         /*durable=*/named, /*exclusive=*/!named, /*auto_delete=*/!named, args);
  const std::string what = named ? "the queue '" + sub->queue_name + "'" : "a queue";
  if (Status s = link.CheckRpc(ch, "declaring " + what); !s.ok()) return fail(s);
  sub->queue = amqp::Str(ok->queue);
  amqp_queue_bind(c, ch, amqp::AmqpBytes(sub->queue), amqp::AmqpBytes(options_.exchange),
                  amqp::AmqpBytes(sub->binding), amqp_empty_table);
  if (Status s = link.CheckRpc(ch, "binding " + what + " to " + options_.exchange); !s.ok())
    return fail(s);
  amqp_basic_consume(c, ch, amqp::AmqpBytes(sub->queue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  if (Status s = link.CheckRpc(ch, "consuming from " + what); !s.ok()) return fail(s);
  sub->channel = ch;
  sub->epoch = next_epoch_++;
  channels_[ch] = sub;
  return Status::Ok();
}

void RabbitMqBroker::OnDelivery(const amqp_envelope_t& envelope) {
  auto it = channels_.find(envelope.channel);
  if (it == channels_.end()) return;  // its channel is going; the server requeues it
  const std::shared_ptr<Sub>& sub = it->second;
  amqp::Received r;
  r.message = amqp::ToMessage(envelope);
  r.tag = envelope.delivery_tag;
  r.epoch = sub->epoch;
  r.message_id = amqp::MessageId(envelope);
  r.attempt = sub->AttemptOf(r.message_id, envelope.redelivered);
  sub->Push(std::move(r));
}

void RabbitMqBroker::OnSubChannelClosed(Link& link, amqp_channel_t channel, const Error& why) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  std::shared_ptr<Sub> sub = it->second;
  channels_.erase(it);
  sub->epoch = 0;
  spdlog::error("{}: the subscription to {} stopped: {}; subscribing again in a second", display_,
                sub->options.pattern, why.message());
  // A cancelled consumer's channel is still open: close it before the next.
  link.CloseChannel(channel);
  RedeclareLater(sub);
}

void RabbitMqBroker::RedeclareLater(std::weak_ptr<Sub> weak) {
  timer_->After(1s, [this, weak] {
    std::shared_ptr<Link> link;
    {
      std::lock_guard lock(connect_mutex_);
      link = sub_link_;
    }
    if (!link) return;
    link->Post([this, weak, l = link.get()] {
      auto sub = weak.lock();
      if (!sub || sub->epoch != 0 || !l->conn()) return;
      {
        std::lock_guard lock(sub->mutex);
        if (!sub->registered) return;
      }
      Status s = Declare(*l, sub);
      if (!s.ok()) {
        spdlog::error("{}: subscribing to {} again: {}", display_, sub->options.pattern,
                      s.error().message());
        RedeclareLater(sub);
      } else {
        spdlog::info("{}: subscribed to {} again", display_, sub->options.pattern);
      }
    });
  });
}

Result<std::unique_ptr<Subscription>> RabbitMqBroker::Subscribe(SubscribeOptions options,
                                                                DeliveryHandler handler) {
  auto binding = amqp::BindingKey(options.pattern);
  if (!binding.ok()) return binding.error();
  WarnUnknownExtensions("amqp", options.extensions, {"queue", "prefetch"});
  auto sub = std::make_shared<Sub>();
  sub->binding = std::move(*binding);
  if (auto q = options.extensions.find("queue"); q != options.extensions.end()) {
    if (q->second.empty() || q->second.size() > 255 || q->second.starts_with("amq."))
      return Error::InvalidArgument("queue: expected 1 to 255 characters, not starting 'amq.'");
    sub->queue_name = q->second;
  } else if (!options.queue_group.empty()) {
    sub->queue_name = "ferry." + options.queue_group + "." + options.pattern;
    if (sub->queue_name.size() > 255)
      return Error::InvalidArgument("queue group and pattern make a queue name over 255 bytes");
  }
  std::uint32_t prefetch = std::max<std::uint32_t>(options.max_in_flight, 1);
  if (auto p = options.extensions.find("prefetch"); p != options.extensions.end()) {
    const std::string& v = p->second;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), prefetch);
    if (ec != std::errc() || end != v.data() + v.size() || prefetch == 0 || prefetch > 65535)
      return Error::InvalidArgument("prefetch: expected an integer from 1 to 65535, got '" + v + "'");
  }
  sub->prefetch = static_cast<std::uint16_t>(std::min<std::uint32_t>(prefetch, 65535));
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(connect_mutex_);
    link = sub_link_;
  }
  if (!link || state_.load() == ConnectionState::kClosed || !link->connected())
    return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
  sub->options = std::move(options);
  sub->handler = std::move(handler);
  {
    std::lock_guard lock(subs_mutex_);
    subs_.push_back(sub);
  }
  // From here `subscription` takes `sub` out again if anything fails.
  auto subscription = std::make_unique<RabbitMqSubscription>(*this, sub);
  Link* l = link.get();
  Status s = link->Call([this, l, sub] { return Declare(*l, sub); }, Clock::now() + kCallLimit);
  if (!s.ok()) return s.error().WithContext("subscribing to " + sub->options.pattern);
  sub->thread = std::thread([sub, link, timer = timer_] { sub->Run(sub, link, timer); });
  return std::unique_ptr<Subscription>(std::move(subscription));
}

void RabbitMqBroker::Remove(const std::shared_ptr<Sub>& sub) {
  {
    std::lock_guard lock(sub->mutex);
    sub->registered = false;
  }
  sub->Stop();
  if (sub->thread.get_id() == std::this_thread::get_id())
    sub->thread.detach();  // unsubscribing from inside its own handler
  else if (sub->thread.joinable())
    sub->thread.join();
  {
    std::lock_guard lock(subs_mutex_);
    subs_.erase(std::remove(subs_.begin(), subs_.end(), sub), subs_.end());
  }
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(connect_mutex_);
    link = sub_link_;
  }
  if (!link) return;
  // Closing the channel cancels the consumer and requeues what it held
  // unacknowledged; an exclusive queue goes with it.
  Link* l = link.get();
  (void)link->Call(
      [this, l, sub] {
        if (sub->epoch == 0) return Status::Ok();
        channels_.erase(sub->channel);
        sub->epoch = 0;
        l->CloseChannel(sub->channel);
        return Status::Ok();
      },
      Clock::now() + kCallLimit);
}

RabbitMqSubscription::~RabbitMqSubscription() { broker_.Remove(sub_); }

Result<std::vector<Message>> RabbitMqBroker::Request(const Message& message,
                                                     const RequestOptions& options) {
  auto dest = amqp::ParseDestination(message.topic, options_.exchange);
  if (!dest.ok()) return dest.error();
  auto pending = std::make_shared<PendingReplies>();
  const std::string correlation =
      id_prefix_ + "r" + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed));
  {
    std::lock_guard lock(requests_mutex_);
    requests_[correlation] = pending;
  }
  const Deadline deadline = Clock::now() + options.timeout;
  amqp::Destination with_id = *dest;
  with_id.correlation_id = correlation;
  Status sent = Send(with_id, message, kDirectReplyTo, deadline);
  std::vector<Message> replies;
  if (sent.ok()) replies = pending->Wait(deadline, options);
  {
    std::lock_guard lock(requests_mutex_);
    requests_.erase(correlation);
  }
  if (!sent.ok()) return sent.error();
  return RequestResult(std::move(replies), message, options);
}

}  // namespace

std::unique_ptr<Broker> MakeRabbitMqBroker(const RabbitMqOptions& options) {
  return std::make_unique<RabbitMqBroker>(options);
}

}  // namespace ferry
