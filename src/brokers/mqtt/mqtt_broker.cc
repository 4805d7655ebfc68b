#include "brokers/mqtt/mqtt_broker.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/mqtt/mqtt_link.h"
#include "brokers/mqtt/mqtt_local_sub.h"
#include "brokers/mqtt/mqtt_topics.h"
#include "brokers/reply_wait.h"
#include "core/cloudevents.h"
#include "core/timer.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using mqtt::Link;
using mqtt::MosqError;
using mqtt::LocalSub;
using mqtt::PropsPtr;
using mqtt::Queued;

// Messages held for subscriptions a resumed session has but this process has
// not made yet.
constexpr std::size_t kMaxParked = 10000;

std::string ReadString(const mosquitto_property* p, int id) {
  char* v = nullptr;
  if (!mosquitto_property_read_string(p, id, &v, false)) return {};
  std::string out(v);
  std::free(v);
  return out;
}

std::string ReadBinary(const mosquitto_property* p, int id) {
  void* v = nullptr;
  std::uint16_t len = 0;
  if (!mosquitto_property_read_binary(p, id, &v, &len, false)) return {};
  std::string out(static_cast<const char*>(v), len);
  std::free(v);
  return out;
}

// An incoming MQTT message as Ferry's Message. Network thread.
Message ToMessage(const mosquitto_message* m, const mosquitto_property* props) {
  Message out;
  out.topic = mqtt::FromMqttTopic(m->topic);
  const auto* bytes = static_cast<const std::uint8_t*>(m->payload);
  out.data = Bytes(std::vector<std::uint8_t>(bytes, bytes + m->payloadlen));
  std::string response_topic, correlation;
  for (const mosquitto_property* p = props; p; p = mosquitto_property_next(p)) {
    switch (mosquitto_property_identifier(p)) {
      case MQTT_PROP_USER_PROPERTY: {
        char* k = nullptr;
        char* v = nullptr;
        if (mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false)) {
          out.metadata.Set(k, v);
          std::free(k);
          std::free(v);
        }
        break;
      }
      case MQTT_PROP_CONTENT_TYPE:
        out.content_type = ReadString(p, MQTT_PROP_CONTENT_TYPE);
        break;
      case MQTT_PROP_RESPONSE_TOPIC:
        response_topic = ReadString(p, MQTT_PROP_RESPONSE_TOPIC);
        break;
      case MQTT_PROP_CORRELATION_DATA:
        correlation = ReadBinary(p, MQTT_PROP_CORRELATION_DATA);
        break;
      default:
        break;
    }
  }
  if (!response_topic.empty()) out.reply_to = mqtt::ReplyAddress(response_topic, correlation);
  CloudEventsFromWire(out.metadata, CloudEventsBinding::kMqtt);
  return out;
}

std::vector<std::uint32_t> SubscriptionIds(const mosquitto_property* props) {
  std::vector<std::uint32_t> ids;
  for (const mosquitto_property* p = props; p; p = mosquitto_property_next(p)) {
    if (mosquitto_property_identifier(p) != MQTT_PROP_SUBSCRIPTION_IDENTIFIER) continue;
    std::uint32_t id = 0;
    if (mosquitto_property_read_varint(p, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false))
      ids.push_back(id);
  }
  return ids;
}

// The properties of an outgoing message.
Result<PropsPtr> Properties(const Message& message, const std::string& response_topic,
                            const std::string& correlation) {
  mosquitto_property* props = nullptr;
  auto fail = [&](int rc, const std::string& what) {
    mosquitto_property_free_all(&props);
    return MosqError(rc, what);
  };
  Metadata renamed;
  for (const auto& [k, v] : CloudEventsToWire(message.metadata, CloudEventsBinding::kMqtt, renamed)) {
    const int rc =
        mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, k.c_str(), v.c_str());
    if (rc != MOSQ_ERR_SUCCESS) return fail(rc, "metadata '" + k + "'");
  }
  if (message.content_type) {
    const int rc = mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE,
                                                 message.content_type->c_str());
    if (rc != MOSQ_ERR_SUCCESS) return fail(rc, "content type");
  }
  if (!response_topic.empty()) {
    const int rc =
        mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, response_topic.c_str());
    if (rc != MOSQ_ERR_SUCCESS) return fail(rc, "response topic");
  }
  if (!correlation.empty()) {
    if (correlation.size() > 65535) return Error::InvalidArgument("correlation data over 64 KiB");
    const int rc = mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA,
                                                 correlation.data(),
                                                 static_cast<std::uint16_t>(correlation.size()));
    if (rc != MOSQ_ERR_SUCCESS) return fail(rc, "correlation data");
  }
  return PropsPtr(props);
}

// One MQTT subscription (a filter, with $share/<group>/ for a queue group)
// and the Ferry subscriptions of this process on it.
struct Filter {
  std::uint32_t id = 0;  // MQTT subscription identifier
  int qos = 1;
  std::string plain;     // the filter without $share/<group>/
  bool shared = false;   // one local subscription per message, round-robin
  std::vector<std::shared_ptr<LocalSub>> subs;
  std::size_t next = 0;
};

struct Parked {
  std::string mqtt_topic;
  Message message;
};

class MqttBroker;

class MqttSubscription final : public Subscription {
 public:
  MqttSubscription(MqttBroker& broker, std::shared_ptr<LocalSub> local)
      : broker_(broker), local_(std::move(local)) {}
  ~MqttSubscription() override;
  // A stopping host: no more deliveries, while those made can be settled.
  // What is still at the server stays there (in the session).
  void Pause() override {
    {
      std::lock_guard lock(local_->mutex);
      local_->paused = true;
    }
    local_->changed.notify_all();
  }

 private:
  MqttBroker& broker_;
  std::shared_ptr<LocalSub> local_;
};

class MqttBroker final : public Broker {
 public:
  explicit MqttBroker(MqttOptions options)
      : options_(std::move(options)),
        display_(std::string(options_.tls ? "mqtts://" : "mqtt://") + options_.host + ":" +
                 std::to_string(options_.port)),
        id_(options_.client_id.empty() ? "ferry-" + RandomToken() : options_.client_id),
        reply_topic_("_ferry/reply/" + RandomToken()) {}
  ~MqttBroker() override { Close(); }

  std::string DisplayUrl() const override { return display_; }
  BrokerCapabilities Capabilities() const override {
    return {.headers = true, .native_request_reply = true, .queue_groups = true,
            .redelivery = true, .durable = options_.SessionExpiry() > 0};
  }

  Status Connect() override;
  void Close() override;
  ConnectionState State() const override { return state_.load(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    on_state_ = std::move(callback);
  }

  Status Publish(const Message& message, Deadline deadline) override {
    auto dest = mqtt::ParseDestination(message.topic);
    if (!dest.ok()) return dest.error();
    std::string response_topic, correlation = dest->correlation;
    if (!message.reply_to.empty()) {
      auto reply = mqtt::ParseDestination(message.reply_to);
      if (!reply.ok()) return reply.error().WithContext("reply address");
      response_topic = reply->topic;
      if (correlation.empty()) correlation = reply->correlation;
    }
    return PublishTo(dest->topic, message, response_topic, correlation, deadline);
  }

  // QoS 1/2: into the publishing link's window; done at the PUBACK/PUBCOMP.
  Status PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) override {
    auto dest = mqtt::ParseDestination(message.topic);
    if (!dest.ok()) return dest.error();
    if (!message.reply_to.empty()) return Broker::PublishAsync(message, deadline, std::move(done));
    auto pub = PublishingLink();
    if (!pub || state_.load() != ConnectionState::kConnected || !pub->connected())
      return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
    auto props = Properties(message, "", dest->correlation);
    if (!props.ok()) return props.error();
    return pub->PublishAsync(dest->topic, message.data, options_.publish_qos, props->get(),
                             deadline, std::move(done));
  }

  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override;
  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override;

  void Remove(const std::shared_ptr<LocalSub>& local);

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

  Status PublishTo(const std::string& topic, const Message& message,
                   const std::string& response_topic, const std::string& correlation,
                   Deadline deadline) {
    auto pub = PublishingLink();
    if (!pub || state_.load() != ConnectionState::kConnected || !pub->connected())
      return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
    auto props = Properties(message, response_topic, correlation);
    if (!props.ok()) return props.error();
    return pub->Publish(topic, message.data, options_.publish_qos, props->get(), deadline);
  }

  // The local subscriptions an incoming message goes to. Holds subs_mutex_.
  std::vector<std::shared_ptr<LocalSub>> RouteLocked(const char* topic,
                                                     const std::vector<std::uint32_t>& ids);
  void OnMessage(const mosquitto_message* m, const mosquitto_property* props);
  void OnReply(const mosquitto_message* m, const mosquitto_property* props);
  void OnLinkUp();
  void OnLinkDown();
  void Resubscribe();
  void DropParked(const char* why);
  void SetState(ConnectionState next) {
    if (state_.exchange(next) == next) return;
    if (on_state_) on_state_(next);
  }

  const MqttOptions options_;
  const std::string display_;
  const std::string id_;
  const std::string reply_topic_;  // this connection's private response topic

  mutable std::mutex connect_mutex_;
  std::shared_ptr<Link> pub_, sub_;
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::function<void(ConnectionState)> on_state_;

  std::mutex subs_mutex_;
  std::map<std::string, Filter> filters_;
  std::uint32_t next_sub_id_ = 1;
  std::deque<Parked> parked_;
  Clock::time_point park_until_{};
  std::uint64_t unrouted_ = 0;

  std::mutex requests_mutex_;
  std::map<std::string, std::shared_ptr<PendingReplies>> requests_;  // by correlation data
  std::atomic<std::uint64_t> next_request_{1};
  // Last, so its thread (redeliveries, resubscribing) stops first.
  Timer timer_;
};

Status MqttBroker::Connect() {
  std::lock_guard lock(connect_mutex_);
  if (pub_) return Status::Ok();
  SetState(ConnectionState::kConnecting);
  const std::uint32_t expiry = options_.SessionExpiry();
  auto pub = std::make_shared<Link>(options_, display_,
                                    mqtt::LinkSettings{.client_id = id_ + "-pub"});
  auto sub = std::make_shared<Link>(
      options_, display_,
      mqtt::LinkSettings{.client_id = id_ + "-sub", .clean_start = expiry == 0,
                         .session_expiry_s = expiry});
  pub->on_message = [this](const mosquitto_message* m, const mosquitto_property* p) {
    OnReply(m, p);
  };
  sub->on_message = [this](const mosquitto_message* m, const mosquitto_property* p) {
    OnMessage(m, p);
  };
  pub->on_connected = [this](bool) { OnLinkUp(); };
  sub->on_connected = [this, first = true](bool session_present) mutable {
    if (first) {
      // A resumed session delivers what it queued right after this CONNACK,
      // before this run has subscribed: hold those for the subscriptions
      // to come. (This thread delivers them, so they cannot overtake.)
      std::lock_guard lock(subs_mutex_);
      park_until_ = session_present ? Clock::now() + options_.resume_window : Clock::time_point{};
      first = false;
    }
    OnLinkUp();
  };
  for (Link* link : {pub.get(), sub.get()}) link->on_lost = [this] { OnLinkDown(); };
  Status s = pub->Connect();
  if (s.ok()) s = sub->Connect();
  if (s.ok()) s = pub->Subscribe(reply_topic_, 1, 0);
  if (!s.ok()) {
    pub->Close(true);
    sub->Close(options_.client_id.empty());
    SetState(ConnectionState::kDisconnected);
    return s;
  }
  pub_ = std::move(pub);
  sub_ = std::move(sub);
  SetState(ConnectionState::kConnected);
  return Status::Ok();
}

void MqttBroker::Close() {
  std::lock_guard lock(connect_mutex_);
  if (!pub_) return;
  SetState(ConnectionState::kClosed);
  {
    // Wakes a network thread waiting for room in a subscription's queue.
    std::lock_guard subs_lock(subs_mutex_);
    for (auto& [key, f] : filters_)
      for (auto& local : f.subs) local->Stop();
  }
  // A session under a fresh id is of no use to anyone once this run closes.
  sub_->Close(/*end_session=*/options_.client_id.empty());
  pub_->Close(/*end_session=*/true);
  sub_.reset();
  pub_.reset();
  DropParked("the broker closed");
}

std::vector<std::shared_ptr<LocalSub>> MqttBroker::RouteLocked(
    const char* topic, const std::vector<std::uint32_t>& ids) {
  std::vector<std::shared_ptr<LocalSub>> out;
  // First by subscription identifier (a server sends one copy per matching
  // subscription, each naming its own), checked against the filter: an
  // identifier may come from an earlier run's session. Messages without a
  // known identifier (queued before this run subscribed) go by topic.
  for (const bool by_id : {true, false}) {
    if (by_id && ids.empty()) continue;
    for (auto& [key, f] : filters_) {
      if (f.subs.empty()) continue;
      if (by_id && std::find(ids.begin(), ids.end(), f.id) == ids.end()) continue;
      bool match = false;
      mosquitto_topic_matches_sub(f.plain.c_str(), topic, &match);
      if (!match) continue;
      if (f.shared)
        out.push_back(f.subs[f.next++ % f.subs.size()]);
      else
        out.insert(out.end(), f.subs.begin(), f.subs.end());
    }
    if (!out.empty()) break;
  }
  return out;
}

void MqttBroker::OnMessage(const mosquitto_message* m, const mosquitto_property* props) {
  Message message = ToMessage(m, props);
  std::vector<std::shared_ptr<LocalSub>> targets;
  {
    std::lock_guard lock(subs_mutex_);
    targets = RouteLocked(m->topic, SubscriptionIds(props));
    if (targets.empty()) {
      if (Clock::now() < park_until_ && parked_.size() < kMaxParked) {
        parked_.push_back({m->topic, std::move(message)});
        return;
      }
      if (unrouted_++ % 1000 == 0 && !options_.client_id.empty())
        spdlog::warn("{}: a message on {} matches no subscription of this process and is "
                     "dropped ({} so far); a persistent session may hold a subscription of an "
                     "earlier run",
                     display_, message.topic, unrouted_);
      return;
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i)
    targets[i]->Push({i + 1 == targets.size() ? std::move(message) : message, 1});
}

void MqttBroker::OnReply(const mosquitto_message* m, const mosquitto_property* props) {
  std::string correlation;
  for (const mosquitto_property* p = props; p; p = mosquitto_property_next(p))
    if (mosquitto_property_identifier(p) == MQTT_PROP_CORRELATION_DATA)
      correlation = ReadBinary(p, MQTT_PROP_CORRELATION_DATA);
  std::shared_ptr<PendingReplies> pending;
  {
    std::lock_guard lock(requests_mutex_);
    auto it = requests_.find(correlation);
    if (it == requests_.end()) return;  // late (the request is over) or not ours
    pending = it->second;
  }
  Message reply = ToMessage(m, props);
  pending->Add(std::move(reply));
}

void MqttBroker::OnLinkUp() {
  // Either link's network thread. Subscribing waits for SUBACKs, which this
  // thread delivers, so it happens on the timer's thread.
  if (state_.load() == ConnectionState::kClosed) return;
  timer_.After(0ms, [this] { Resubscribe(); });
}

void MqttBroker::OnLinkDown() {
  if (state_.load() == ConnectionState::kClosed) return;
  if (state_.load() != ConnectionState::kReconnecting)
    spdlog::warn("{}: connection lost, reconnecting", display_);
  SetState(ConnectionState::kReconnecting);
}

void MqttBroker::Resubscribe() {
  std::lock_guard connect_lock(connect_mutex_);
  if (!pub_ || !sub_ || !pub_->connected() || !sub_->connected()) return;
  if (state_.load() != ConnectionState::kReconnecting) return;  // first connect: nothing to redo
  // The server may have lost the session (no persistence, or it expired).
  Status s = pub_->Subscribe(reply_topic_, 1, 0);
  std::vector<std::tuple<std::string, int, std::uint32_t>> filters;
  {
    std::lock_guard lock(subs_mutex_);
    for (const auto& [key, f] : filters_) filters.emplace_back(key, f.qos, f.id);
  }
  for (const auto& [key, qos, id] : filters) {
    if (!s.ok()) break;
    s = sub_->Subscribe(key, qos, static_cast<int>(id));
  }
  if (!s.ok()) {
    spdlog::error("{}: subscribing again after reconnecting: {}", display_, s.error().message());
    return;  // the next reconnect tries again
  }
  spdlog::info("{}: reconnected", display_);
  SetState(ConnectionState::kConnected);
}

void MqttBroker::DropParked(const char* why) {
  std::lock_guard lock(subs_mutex_);
  if (parked_.empty()) return;
  spdlog::warn("{}: {} message(s) the session delivered for subscriptions this process never "
               "made are dropped ({}), e.g. one on {}",
               display_, parked_.size(), why, parked_.front().message.topic);
  parked_.clear();
}

Result<std::unique_ptr<Subscription>> MqttBroker::Subscribe(SubscribeOptions options,
                                                            DeliveryHandler handler) {
  auto mapped = mqtt::ToMqttFilter(options.pattern);
  if (!mapped.ok()) return mapped.error();
  FERRY_RETURN_IF_ERROR(mqtt::ValidateShareGroup(options.queue_group));
  WarnUnknownExtensions("mqtt", options.extensions, {"qos"});
  int qos = 1;
  if (auto it = options.extensions.find("qos"); it != options.extensions.end()) {
    if (it->second != "0" && it->second != "1" && it->second != "2")
      return Error::InvalidArgument("qos: expected 0, 1 or 2, got '" + it->second + "'");
    qos = it->second[0] - '0';
  }
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(connect_mutex_);
    link = sub_;
  }
  if (!link || state_.load() == ConnectionState::kClosed)
    return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
  if (options.max_in_flight == 0) options.max_in_flight = 1;

  auto local = std::make_shared<LocalSub>();
  local->self = local;
  local->filter =
      options.queue_group.empty() ? *mapped : "$share/" + options.queue_group + "/" + *mapped;
  local->options = std::move(options);
  local->handler = std::move(handler);
  std::uint32_t id = 0;
  bool fresh = false;
  {
    std::lock_guard lock(subs_mutex_);
    auto [it, inserted] = filters_.try_emplace(local->filter);
    Filter& f = it->second;
    if (inserted) {
      f.id = next_sub_id_++;
      f.plain = *mapped;
      f.shared = !local->options.queue_group.empty();
    }
    fresh = inserted || f.qos != qos || f.subs.empty();
    f.qos = qos;
    f.subs.push_back(local);
    id = f.id;
    // What a resumed session delivered before this subscription existed.
    for (auto p = parked_.begin(); p != parked_.end();) {
      bool match = false;
      mosquitto_topic_matches_sub(f.plain.c_str(), p->mqtt_topic.c_str(), &match);
      if (!match) {
        ++p;
        continue;
      }
      local->queue.push_back({std::move(p->message), 1});
      p = parked_.erase(p);
    }
  }
  local->thread = std::thread([local, this] { local->Run(timer_); });
  auto subscription = std::make_unique<MqttSubscription>(*this, local);
  if (fresh) {
    Status s = link->Subscribe(local->filter, qos, static_cast<int>(id));
    if (!s.ok()) return s.error();  // `subscription` goes and takes `local` out again
  }
  return std::unique_ptr<Subscription>(std::move(subscription));
}

void MqttBroker::Remove(const std::shared_ptr<LocalSub>& local) {
  local->Stop();
  if (local->thread.get_id() == std::this_thread::get_id())
    local->thread.detach();  // unsubscribing from inside its own handler
  else if (local->thread.joinable())
    local->thread.join();
  bool unsubscribe = false;
  {
    std::lock_guard lock(subs_mutex_);
    auto it = filters_.find(local->filter);
    if (it == filters_.end()) return;
    auto& subs = it->second.subs;
    subs.erase(std::remove(subs.begin(), subs.end(), local), subs.end());
    // With a client_id the session outlives this process: the server keeps
    // the subscription and queues for the next run. Otherwise it goes.
    if (subs.empty() && options_.client_id.empty()) {
      filters_.erase(it);
      unsubscribe = true;
    }
  }
  if (!unsubscribe) return;
  std::lock_guard lock(connect_mutex_);
  if (sub_) sub_->Unsubscribe(local->filter);
}

MqttSubscription::~MqttSubscription() { broker_.Remove(local_); }

Result<std::vector<Message>> MqttBroker::Request(const Message& message,
                                                 const RequestOptions& options) {
  auto dest = mqtt::ParseDestination(message.topic);
  if (!dest.ok()) return dest.error();
  auto pending = std::make_shared<PendingReplies>();
  const std::string correlation = std::to_string(next_request_++);
  {
    std::lock_guard lock(requests_mutex_);
    requests_[correlation] = pending;
  }
  const Deadline deadline = Clock::now() + options.timeout;
  Status sent = PublishTo(dest->topic, message, reply_topic_, correlation, deadline);
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

std::unique_ptr<Broker> MakeMqttBroker(const MqttOptions& options) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  return std::make_unique<MqttBroker>(options);
}

}  // namespace ferry
