#include "brokers/mqtt/mqtt_broker.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <queue>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/mqtt/mqtt_topics.h"
#include "core/timer.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;

// The one place libmosquitto return codes become Ferry errors.
Error MosqError(int rc, std::string_view context) {
  std::string text = std::string(context) + ": " + mosquitto_strerror(rc);
  switch (rc) {
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
    case MOSQ_ERR_CONN_REFUSED:
    case MOSQ_ERR_ERRNO:
    case MOSQ_ERR_TLS:
    case MOSQ_ERR_KEEPALIVE:
      return Error::Connection(std::move(text));
    case MOSQ_ERR_AUTH:
    case MOSQ_ERR_ACL_DENIED:
      return Error::PermissionDenied(std::move(text));
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET:
      return Error::ResourceExhausted(std::move(text));
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_MALFORMED_UTF8:
      return Error::InvalidArgument(std::move(text));
    default:
      return Error::Internal(std::move(text));
  }
}

struct MosqDeleter {
  void operator()(mosquitto* m) const { mosquitto_destroy(m); }
};
struct PropsDeleter {
  void operator()(mosquitto_property* p) const { mosquitto_property_free_all(&p); }
};
using MosqPtr = std::unique_ptr<mosquitto, MosqDeleter>;
using PropsPtr = std::unique_ptr<mosquitto_property, PropsDeleter>;

std::string RandomId() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

// One libmosquitto client and its network thread. Callbacks run on that
// thread.
class Link {
 public:
  using MessageFn = std::function<void(const mosquitto_message*, const mosquitto_property*)>;

  Link(const MqttOptions& options, std::string display, std::string client_id, bool clean_start,
       std::uint32_t session_expiry)
      : options_(options),
        display_(std::move(display)),
        client_id_(std::move(client_id)),
        clean_start_(clean_start),
        session_expiry_(session_expiry) {}
  ~Link() { Close(); }

  std::function<void()> on_connected;  // after every CONNACK that succeeded
  std::function<void()> on_lost;
  MessageFn on_message;

  Status Connect() {
    mosquitto* raw = mosquitto_new(client_id_.c_str(), clean_start_, this);
    if (!raw) return Error::Internal("mosquitto_new failed");
    mosq_.reset(raw);
    mosquitto_int_option(raw, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(raw, &Link::OnConnect);
    mosquitto_disconnect_v5_callback_set(raw, &Link::OnDisconnect);
    mosquitto_publish_v5_callback_set(raw, &Link::OnPublish);
    mosquitto_subscribe_v5_callback_set(raw, &Link::OnSubscribe);
    mosquitto_message_v5_callback_set(raw, &Link::OnMessage);
    mosquitto_reconnect_delay_set(raw, 1, 5, true);
    if (!options_.user.empty()) {
      int rc = mosquitto_username_pw_set(raw, options_.user.c_str(),
                                         options_.password.empty() ? nullptr : options_.password.c_str());
      if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, display_ + ": credentials");
    }
    if (options_.tls) {
      int rc = mosquitto_tls_set(raw, options_.tls_ca_file.empty() ? nullptr : options_.tls_ca_file.c_str(),
                                 options_.tls_ca_file.empty() ? "/etc/ssl/certs" : nullptr,
                                 options_.tls_cert_file.empty() ? nullptr : options_.tls_cert_file.c_str(),
                                 options_.tls_key_file.empty() ? nullptr : options_.tls_key_file.c_str(),
                                 nullptr);
      if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, display_ + ": tls");
    }
    mosquitto_property* props = nullptr;
    if (session_expiry_ > 0)
      mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, session_expiry_);
    PropsPtr owned(props);
    int rc = mosquitto_connect_bind_v5(raw, options_.host.c_str(), options_.port, options_.keepalive_s,
                                       nullptr, props);
    if (rc != MOSQ_ERR_SUCCESS)
      return Error::Connection("cannot connect to " + display_ + ": " +
                               (rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno))
                                                     : std::string(mosquitto_strerror(rc))));
    rc = mosquitto_loop_start(raw);
    if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, display_ + ": network thread");
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, options_.connect_timeout, [&] { return connack_ >= 0; })) {
      lock.unlock();
      Close();
      return Error::Connection("cannot connect to " + display_ + ": no answer within " +
                               std::to_string(options_.connect_timeout.count()) + " ms");
    }
    if (connack_ != 0) {
      const int code = connack_;
      lock.unlock();
      Close();
      return Error::Connection("cannot connect to " + display_ + ": " +
                               mosquitto_reason_string(code));
    }
    return Status::Ok();
  }

  void Close() {
    if (!mosq_) return;
    closing_ = true;
    mosquitto_disconnect_v5(mosq_.get(), MQTT_RC_NORMAL_DISCONNECTION, nullptr);
    mosquitto_loop_stop(mosq_.get(), true);
    mosq_.reset();
    std::lock_guard lock(mutex_);
    connected_ = false;
    cv_.notify_all();
  }

  bool connected() const { return connected_.load(); }
  mosquitto* raw() { return mosq_.get(); }

  // Publishes and waits for the server's acknowledgement (QoS 1 and 2).
  Status Publish(const std::string& topic, const Bytes& data, int qos, mosquitto_property* props,
                 Deadline deadline) {
    if (!connected()) return Error::Connection(display_ + " is not connected");
    int mid = 0;
    int rc = mosquitto_publish_v5(mosq_.get(), &mid, topic.c_str(), static_cast<int>(data.size()),
                                  data.span().data(), qos, false, props);
    if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, "publishing to " + topic);
    if (qos == 0) return Status::Ok();
    std::unique_lock lock(mutex_);
    const bool done = cv_.wait_until(lock, deadline, [&] {
      return acked_.count(mid) > 0 || !connected_.load() || closing_.load();
    });
    auto it = acked_.find(mid);
    if (it == acked_.end()) {
      if (!done) return Error::ResourceExhausted("the server did not acknowledge a message to " + topic + " in time");
      return Error::Connection(display_ + ": the connection dropped before the server acknowledged " + topic);
    }
    const int reason = it->second;
    acked_.erase(it);
    if (reason >= 0x80)
      return Error::PermissionDenied("the server refused a message to " + topic + ": " +
                                     mosquitto_reason_string(reason));
    return Status::Ok();
  }

  // Subscribes and waits for the SUBACK.
  Status Subscribe(const std::string& filter, int qos, int id) {
    if (!connected()) return Error::Connection(display_ + " is not connected");
    mosquitto_property* props = nullptr;
    if (id > 0) mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, id);
    PropsPtr owned(props);
    int mid = 0;
    int rc = mosquitto_subscribe_v5(mosq_.get(), &mid, filter.c_str(), qos, 0, props);
    if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, "subscribing to " + filter);
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, options_.connect_timeout, [&] { return subacked_.count(mid) > 0; }))
      return Error::Timeout("the server did not confirm the subscription to " + filter);
    const int granted = subacked_[mid];
    subacked_.erase(mid);
    if (granted >= 0x80)
      return Error::PermissionDenied("the server refused the subscription to " + filter + ": " +
                                     mosquitto_reason_string(granted));
    return Status::Ok();
  }

  void Unsubscribe(const std::string& filter) {
    if (mosq_ && connected()) mosquitto_unsubscribe(mosq_.get(), nullptr, filter.c_str());
  }

 private:
  static void OnConnect(mosquitto*, void* self, int rc, int, const mosquitto_property*) {
    auto* link = static_cast<Link*>(self);
    {
      std::lock_guard lock(link->mutex_);
      link->connack_ = rc;
      link->connected_ = rc == 0;
      link->cv_.notify_all();
    }
    if (rc == 0 && link->on_connected) link->on_connected();
  }
  static void OnDisconnect(mosquitto*, void* self, int, const mosquitto_property*) {
    auto* link = static_cast<Link*>(self);
    {
      std::lock_guard lock(link->mutex_);
      link->connected_ = false;
      link->cv_.notify_all();
    }
    if (!link->closing_ && link->on_lost) link->on_lost();
  }
  static void OnPublish(mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
    auto* link = static_cast<Link*>(self);
    std::lock_guard lock(link->mutex_);
    link->acked_[mid] = reason;
    link->cv_.notify_all();
  }
  static void OnSubscribe(mosquitto*, void* self, int mid, int count, const int* granted,
                          const mosquitto_property*) {
    auto* link = static_cast<Link*>(self);
    std::lock_guard lock(link->mutex_);
    link->subacked_[mid] = count > 0 ? granted[0] : 0x80;
    link->cv_.notify_all();
  }
  static void OnMessage(mosquitto*, void* self, const mosquitto_message* m,
                        const mosquitto_property* props) {
    auto* link = static_cast<Link*>(self);
    if (link->on_message) link->on_message(m, props);
  }

  const MqttOptions& options_;
  std::string display_;
  std::string client_id_;
  bool clean_start_;
  std::uint32_t session_expiry_;
  MosqPtr mosq_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int connack_ = -1;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};
  std::map<int, int> acked_;     // mid → reason code
  std::map<int, int> subacked_;  // mid → granted QoS or reason code
};

Message ToMessage(const mosquitto_message* m, const mosquitto_property* props) {
  Message out;
  out.topic = mqtt::FromMqttTopic(m->topic);
  const auto* bytes = static_cast<const std::uint8_t*>(m->payload);
  out.data = Bytes(std::vector<std::uint8_t>(bytes, bytes + m->payloadlen));
  for (const mosquitto_property* p = props; p; p = mosquitto_property_next(p)) {
    const int id = mosquitto_property_identifier(p);
    if (id == MQTT_PROP_USER_PROPERTY) {
      char* k = nullptr;
      char* v = nullptr;
      if (mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false)) {
        out.metadata.Set(k, v);
        std::free(k);
        std::free(v);
      }
    } else if (id == MQTT_PROP_CONTENT_TYPE) {
      char* v = nullptr;
      if (mosquitto_property_read_string(p, MQTT_PROP_CONTENT_TYPE, &v, false)) {
        out.content_type = v;
        std::free(v);
      }
    } else if (id == MQTT_PROP_RESPONSE_TOPIC) {
      char* v = nullptr;
      if (mosquitto_property_read_string(p, MQTT_PROP_RESPONSE_TOPIC, &v, false)) {
        out.reply_to = mqtt::FromMqttTopic(v);
        std::free(v);
      }
    }
  }
  return out;
}

std::vector<int> SubscriptionIds(const mosquitto_property* props) {
  std::vector<int> ids;
  for (const mosquitto_property* p = props; p; p = mosquitto_property_next(p)) {
    if (mosquitto_property_identifier(p) != MQTT_PROP_SUBSCRIPTION_IDENTIFIER) continue;
    std::uint32_t id = 0;
    if (mosquitto_property_read_varint(p, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false))
      ids.push_back(static_cast<int>(id));
  }
  return ids;
}

Result<PropsPtr> Properties(const Message& message, const std::string* response_topic) {
  mosquitto_property* props = nullptr;
  auto fail = [&](int rc, const std::string& what) {
    mosquitto_property_free_all(&props);
    return MosqError(rc, what);
  };
  for (const auto& [k, v] : message.metadata) {
    int rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, k.c_str(), v.c_str());
    if (rc != MOSQ_ERR_SUCCESS) return fail(rc, "metadata '" + k + "'");
  }
  if (message.content_type) {
    int rc = mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, message.content_type->c_str());
    if (rc != MOSQ_ERR_SUCCESS) return fail(rc, "content type");
  }
  if (response_topic) {
    int rc = mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, response_topic->c_str());
    if (rc != MOSQ_ERR_SUCCESS) return fail(rc, "response topic");
  }
  return PropsPtr(props);
}

// One Ferry subscription. Handler calls are serialised by `mutex`.
struct LocalSub {
  SubscribeOptions options;
  DeliveryHandler handler;
  std::mutex mutex;
  bool closed = false;
};

class MqttBroker;

class MqttAcker final : public Acker {
 public:
  MqttAcker(std::weak_ptr<LocalSub> sub, Message message, std::uint32_t attempt, Timer& timer)
      : sub_(std::move(sub)), message_(std::move(message)), attempt_(attempt), timer_(timer) {}
  Status Ack() override { return Settle(); }
  Status Term() override { return Settle(); }
  Status Nack(std::chrono::milliseconds delay) override {
    FERRY_RETURN_IF_ERROR(Settle());
    // The server already has its acknowledgement: deliver again from here.
    timer_.After(delay, [sub = sub_, m = message_, attempt = attempt_ + 1, &timer = timer_] {
      Deliver(sub, m, attempt, timer);
    });
    return Status::Ok();
  }

  static void Deliver(const std::weak_ptr<LocalSub>& weak, const Message& m, std::uint32_t attempt,
                      Timer& timer) {
    auto sub = weak.lock();
    if (!sub) return;
    std::lock_guard lock(sub->mutex);
    if (sub->closed) return;
    Delivery d;
    d.message = m;
    d.attempt = attempt;
    d.pattern = sub->options.pattern;
    if (sub->options.manual_ack) d.acker = std::make_shared<MqttAcker>(weak, m, attempt, timer);
    sub->handler(std::move(d));
  }

 private:
  Status Settle() {
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    return Status::Ok();
  }
  std::weak_ptr<LocalSub> sub_;
  Message message_;
  std::uint32_t attempt_;
  Timer& timer_;
  std::atomic<bool> settled_{false};
};

class MqttSubscription;

class MqttBroker final : public Broker {
 public:
  explicit MqttBroker(MqttOptions options)
      : options_(std::move(options)),
        display_(std::string(options_.tls ? "mqtts://" : "mqtt://") + options_.host + ":" +
                 std::to_string(options_.port)),
        id_(options_.client_id.empty() ? "ferry-" + RandomId() : options_.client_id),
        inbox_prefix_("_ferry/inbox/" + RandomId()) {}
  ~MqttBroker() override { Close(); }

  std::string DisplayUrl() const override { return display_; }
  BrokerCapabilities Capabilities() const override {
    return {.headers = true, .native_request_reply = true, .queue_groups = true,
            .redelivery = true, .durable = !options_.client_id.empty()};
  }

  Status Connect() override {
    std::lock_guard lock(connect_mutex_);
    if (pub_) return Status::Ok();
    SetState(ConnectionState::kConnecting);
    const bool persistent = !options_.client_id.empty();
    auto pub = std::make_unique<Link>(options_, display_, id_ + "-pub", true, 0);
    auto sub = std::make_unique<Link>(options_, display_, id_ + "-sub", !persistent,
                                      persistent ? options_.session_expiry_s : 0);
    pub->on_message = [this](const mosquitto_message* m, const mosquitto_property* p) { OnReply(m, p); };
    pub->on_connected = [this] { OnLinkUp(); };
    pub->on_lost = [this] { OnLinkDown(); };
    sub->on_message = [this](const mosquitto_message* m, const mosquitto_property* p) { OnMessage(m, p); };
    sub->on_connected = [this] { OnLinkUp(); };
    sub->on_lost = [this] { OnLinkDown(); };
    Status s = pub->Connect();
    if (s.ok()) s = sub->Connect();
    if (!s.ok()) {
      SetState(ConnectionState::kDisconnected);
      return s;
    }
    pub_ = std::move(pub);
    sub_ = std::move(sub);
    FERRY_RETURN_IF_ERROR(pub_->Subscribe(inbox_prefix_ + "/#", 1, 0));
    SetState(ConnectionState::kConnected);
    return Status::Ok();
  }

  void Close() override {
    std::lock_guard lock(connect_mutex_);
    if (!pub_) return;
    SetState(ConnectionState::kClosed);
    sub_.reset();
    pub_.reset();
  }

  ConnectionState State() const override { return state_.load(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    on_state_ = std::move(callback);
  }

  Status Publish(const Message& message, Deadline deadline) override {
    auto topic = mqtt::ToMqttTopic(message.topic);
    if (!topic.ok()) return topic.error();
    return PublishAs(*topic, message, nullptr, deadline);
  }

  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override;

  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override {
    auto topic = mqtt::ToMqttTopic(message.topic);
    if (!topic.ok()) return topic.error();
    auto pending = std::make_shared<Pending>();
    const std::string inbox = inbox_prefix_ + "/" + std::to_string(next_request_++);
    {
      std::lock_guard lock(requests_mutex_);
      requests_[inbox] = pending;
    }
    Status sent = PublishAs(*topic, message, &inbox, Clock::now() + options.timeout);
    std::vector<Message> replies;
    if (sent.ok()) {
      std::unique_lock lock(pending->mutex);
      pending->cv.wait_for(lock, options.timeout,
                           [&] { return pending->replies.size() >= options.expected_replies; });
      replies = std::move(pending->replies);
    }
    {
      std::lock_guard lock(requests_mutex_);
      requests_.erase(inbox);
    }
    if (!sent.ok()) return sent.error();
    if (replies.empty())
      return Error::Timeout("no reply on " + message.topic + " within " +
                            std::to_string(options.timeout.count()) + " ms");
    if (replies.size() > options.expected_replies) replies.resize(options.expected_replies);
    return replies;
  }

  void Remove(const std::shared_ptr<LocalSub>& local, const std::string& filter);

 private:
  friend class MqttSubscription;
  struct Pending {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<Message> replies;
  };
  struct Filter {
    int id = 0;
    int qos = 1;
    std::vector<std::shared_ptr<LocalSub>> subs;
  };

  Status PublishAs(const std::string& topic, const Message& message, const std::string* response,
                   Deadline deadline) {
    Link* pub = nullptr;
    {
      std::lock_guard lock(connect_mutex_);
      pub = pub_.get();
    }
    if (!pub || state_.load() != ConnectionState::kConnected)
      return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
    auto props = Properties(message, response);
    if (!props.ok()) return props.error();
    return pub->Publish(topic, message.data, options_.publish_qos, props->get(), deadline);
  }

  // Network thread of the subscribing link.
  void OnMessage(const mosquitto_message* m, const mosquitto_property* props) {
    const Message message = ToMessage(m, props);
    std::vector<std::shared_ptr<LocalSub>> targets;
    {
      std::lock_guard lock(subs_mutex_);
      std::vector<int> ids = SubscriptionIds(props);
      for (const auto& [filter, f] : filters_) {
        bool match = std::find(ids.begin(), ids.end(), f.id) != ids.end();
        if (ids.empty()) {
          // A server that leaves out subscription identifiers: match ourselves.
          std::string plain = filter.starts_with("$share/") ? filter.substr(filter.find('/', 7) + 1) : filter;
          bool result = false;
          mosquitto_topic_matches_sub(plain.c_str(), m->topic, &result);
          match = result;
        }
        if (match) targets.insert(targets.end(), f.subs.begin(), f.subs.end());
      }
    }
    for (const auto& sub : targets) MqttAcker::Deliver(sub, message, 1, timer_);
  }

  // Network thread of the publishing link: replies to requests.
  void OnReply(const mosquitto_message* m, const mosquitto_property* props) {
    std::shared_ptr<Pending> pending;
    {
      std::lock_guard lock(requests_mutex_);
      auto it = requests_.find(m->topic);
      if (it == requests_.end()) return;  // late: the request is over
      pending = it->second;
    }
    std::lock_guard lock(pending->mutex);
    pending->replies.push_back(ToMessage(m, props));
    pending->cv.notify_all();
  }

  void OnLinkUp() {
    // A link that comes back re-subscribes (the server may have no session).
    if (state_.load() == ConnectionState::kClosed || !sub_ || !pub_) return;
    if (!sub_->connected() || !pub_->connected()) return;
    timer_.After(0ms, [this] { Resubscribe(); });
  }

  void OnLinkDown() {
    if (state_.load() == ConnectionState::kClosed) return;
    spdlog::warn("{}: connection lost, reconnecting", display_);
    SetState(ConnectionState::kReconnecting);
  }

  void Resubscribe() {
    std::lock_guard connect_lock(connect_mutex_);
    if (!pub_ || !sub_) return;
    (void)pub_->Subscribe(inbox_prefix_ + "/#", 1, 0);
    std::map<std::string, Filter> filters;
    {
      std::lock_guard lock(subs_mutex_);
      filters = filters_;
    }
    for (const auto& [filter, f] : filters) {
      Status s = sub_->Subscribe(filter, f.qos, f.id);
      if (!s.ok()) spdlog::error("{}: resubscribing to {}: {}", display_, filter, s.error().message());
    }
    if (state_.load() != ConnectionState::kClosed) {
      spdlog::info("{}: reconnected", display_);
      SetState(ConnectionState::kConnected);
    }
  }

  void SetState(ConnectionState next) {
    if (state_.exchange(next) == next) return;
    if (on_state_) on_state_(next);
  }

  MqttOptions options_;
  std::string display_;
  std::string id_;
  std::string inbox_prefix_;
  std::mutex connect_mutex_;
  std::unique_ptr<Link> pub_, sub_;
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::function<void(ConnectionState)> on_state_;
  std::mutex subs_mutex_;
  std::map<std::string, Filter> filters_;
  int next_sub_id_ = 1;
  std::mutex requests_mutex_;
  std::map<std::string, std::shared_ptr<Pending>> requests_;
  std::atomic<std::uint64_t> next_request_{1};
  // Last, so its thread (redelivery, resubscribing) stops before anything it
  // uses is destroyed.
  Timer timer_;
};

class MqttSubscription final : public Subscription {
 public:
  MqttSubscription(MqttBroker& broker, std::shared_ptr<LocalSub> local, std::string filter)
      : broker_(broker), local_(std::move(local)), filter_(std::move(filter)) {}
  ~MqttSubscription() override {
    {
      std::lock_guard lock(local_->mutex);  // waits for a running handler
      local_->closed = true;
    }
    broker_.Remove(local_, filter_);
  }

 private:
  MqttBroker& broker_;
  std::shared_ptr<LocalSub> local_;
  std::string filter_;
};

Result<std::unique_ptr<Subscription>> MqttBroker::Subscribe(SubscribeOptions options,
                                                            DeliveryHandler handler) {
  auto mapped = mqtt::ToMqttFilter(options.pattern);
  if (!mapped.ok()) return mapped.error();
  WarnUnknownExtensions("mqtt", options.extensions, {"qos"});
  int qos = 1;
  if (auto it = options.extensions.find("qos"); it != options.extensions.end()) {
    if (it->second != "0" && it->second != "1" && it->second != "2")
      return Error::InvalidArgument("qos: expected 0, 1 or 2, got '" + it->second + "'");
    qos = it->second[0] - '0';
  }
  const std::string filter =
      options.queue_group.empty() ? *mapped : "$share/" + options.queue_group + "/" + *mapped;
  Link* sub = nullptr;
  {
    std::lock_guard lock(connect_mutex_);
    sub = sub_.get();
  }
  if (!sub || state_.load() != ConnectionState::kConnected)
    return Error::Connection(display_ + " is " + std::string(ConnectionStateName(state_.load())));
  auto local = std::make_shared<LocalSub>();
  local->options = std::move(options);
  local->handler = std::move(handler);
  int id = 0;
  bool fresh = false;
  {
    std::lock_guard lock(subs_mutex_);
    auto [it, inserted] = filters_.try_emplace(filter);
    if (inserted) {
      it->second.id = next_sub_id_++;
      it->second.qos = qos;
      fresh = true;
    }
    it->second.subs.push_back(local);
    id = it->second.id;
  }
  if (fresh) {
    Status s = sub->Subscribe(filter, qos, id);
    if (!s.ok()) {
      Remove(local, filter);
      return s.error();
    }
  }
  return std::unique_ptr<Subscription>(new MqttSubscription(*this, local, filter));
}

void MqttBroker::Remove(const std::shared_ptr<LocalSub>& local, const std::string& filter) {
  bool last = false;
  {
    std::lock_guard lock(subs_mutex_);
    auto it = filters_.find(filter);
    if (it == filters_.end()) return;
    auto& subs = it->second.subs;
    subs.erase(std::remove(subs.begin(), subs.end(), local), subs.end());
    if (subs.empty()) {
      filters_.erase(it);
      last = true;
    }
  }
  if (!last) return;
  std::lock_guard lock(connect_mutex_);
  if (sub_) sub_->Unsubscribe(filter);
}

Result<int> Int(const std::string& key, const std::string& value) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 0)
    return Error::InvalidArgument(key + ": expected a whole number, got '" + value + "'");
  return n;
}

}  // namespace

std::unique_ptr<Broker> MakeMqttBroker(const MqttOptions& options) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  return std::make_unique<MqttBroker>(options);
}

Result<MqttOptions> MqttOptionsFrom(std::string_view url,
                                    const std::map<std::string, std::string>& settings) {
  MqttOptions o;
  std::string_view rest = url;
  if (rest.starts_with("mqtts://")) {
    o.tls = true;
    o.port = 8883;
    rest.remove_prefix(8);
  } else if (rest.starts_with("mqtt://")) {
    rest.remove_prefix(7);
  } else {
    return Error::InvalidArgument("expected mqtt:// or mqtts://, got a different scheme");
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    const auto colon = cred.find(':');
    o.user = std::string(cred.substr(0, colon));
    if (colon != std::string_view::npos) o.password = std::string(cred.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    auto port = Int("port", std::string(rest.substr(colon + 1)));
    if (!port.ok() || *port == 0 || *port > 65535)
      return Error::InvalidArgument("bad port in mqtt URL: '" + std::string(rest.substr(colon + 1)) + "'");
    o.port = *port;
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) o.host = std::string(rest);
  for (const auto& [key, value] : settings) {
    if (key == "client_id") o.client_id = value;
    else if (key == "user") o.user = value;
    else if (key == "password") o.password = value;
    else if (key == "tls_ca") o.tls_ca_file = value;
    else if (key == "tls_cert") o.tls_cert_file = value;
    else if (key == "tls_key") o.tls_key_file = value;
    else if (key == "session_expiry_s" || key == "keepalive_s" || key == "qos" ||
             key == "connect_timeout_ms") {
      auto n = Int(key, value);
      if (!n.ok()) return n.error();
      if (key == "session_expiry_s") o.session_expiry_s = static_cast<std::uint32_t>(*n);
      else if (key == "keepalive_s") o.keepalive_s = std::max(*n, 5);
      else if (key == "connect_timeout_ms") o.connect_timeout = std::chrono::milliseconds(*n);
      else if (*n > 2) return Error::InvalidArgument("qos: expected 0, 1 or 2, got '" + value + "'");
      else o.publish_qos = *n;
    } else {
      return Error::InvalidArgument("unknown option '" + key +
                                    "' for an mqtt broker (known: client_id, user, password, "
                                    "session_expiry_s, keepalive_s, qos, tls_ca, tls_cert, "
                                    "tls_key, connect_timeout_ms)");
    }
  }
  auto env = [](const char* name, std::string& into) {
    if (const char* v = std::getenv(name); into.empty() && v && *v) into = v;
  };
  env("FERRY_MQTT_USER", o.user);
  env("FERRY_MQTT_PASSWORD", o.password);
  return o;
}

}  // namespace ferry
