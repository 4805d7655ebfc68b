#include "brokers/nats/nats_broker.h"

#include <nats/nats.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/topic.h"

namespace ferry {
namespace {

constexpr const char* kContentTypeHeader = "Content-Type";
// JetStream keeps no reply subject with a stored message (the delivered
// message's reply is its ack subject), so a reply address travels here.
constexpr const char* kReplyToHeader = "Ferry-Reply-To";

// The one place cnats status codes become Ferry errors.
Error NatsError(natsStatus s, std::string_view context) {
  std::string text = std::string(context) + ": " + natsStatus_GetText(s);
  switch (s) {
    case NATS_TIMEOUT:
      return Error::Timeout(std::move(text));
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_NOT_YET_CONNECTED:
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_SECURE_CONNECTION_REQUIRED:
    case NATS_SSL_ERROR:
      return Error::Connection(std::move(text));
    case NATS_NOT_PERMITTED:
      return Error::PermissionDenied(std::move(text));
    case NATS_MAX_PAYLOAD:
      return Error::ResourceExhausted(std::move(text));
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      return Error::InvalidArgument(std::move(text));
    default:
      return Error::Internal(std::move(text));
  }
}

// Owners of cnats handles.
struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
struct ConnectionDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct SubscriptionDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using OptionsPtr = std::unique_ptr<natsOptions, OptionsDeleter>;
using ConnectionPtr = std::unique_ptr<natsConnection, ConnectionDeleter>;
using SubscriptionPtr = std::unique_ptr<natsSubscription, SubscriptionDeleter>;
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;
struct JsDeleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
using JsPtr = std::unique_ptr<jsCtx, JsDeleter>;

// The URL list with any user:password@ removed.
std::string Redact(std::string_view urls) {
  std::string out;
  std::size_t start = 0;
  while (start <= urls.size()) {
    std::size_t comma = urls.find(',', start);
    std::string one(urls.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                         : comma - start));
    const auto scheme = one.find("://");
    const auto at = one.find('@');
    if (scheme != std::string::npos && at != std::string::npos && at > scheme)
      one = one.substr(0, scheme + 3) + one.substr(at + 1);
    out += (out.empty() ? "" : ",") + one;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// `stored`: a JetStream delivery, whose reply address is in a header.
Message ToMessage(natsMsg* msg, bool stored = false) {
  Message m;
  m.topic = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg); reply && !stored) m.reply_to = reply;
  m.data = Bytes(std::vector<std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg)),
      reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg)) + natsMsg_GetDataLength(msg)));
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(msg, keys[i], &value) != NATS_OK || !value) continue;
      if (std::string_view(keys[i]) == kContentTypeHeader)
        m.content_type = value;
      else if (std::string_view(keys[i]) == kReplyToHeader)
        m.reply_to = stored ? value : m.reply_to;
      else
        m.metadata.Set(keys[i], value);
    }
    std::free(keys);
  }
  return m;
}

// `stored`: published through JetStream, so the reply address goes in a
// header instead of the reply subject.
Result<MsgPtr> ToNatsMsg(const Message& message, const char* reply, bool stored = false) {
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, message.topic.c_str(), stored ? nullptr : reply,
                                reinterpret_cast<const char*>(message.data.span().data()),
                                static_cast<int>(message.data.size()));
  if (s != NATS_OK) return NatsError(s, "building a message for " + message.topic);
  MsgPtr msg(raw);
  for (const auto& [key, value] : message.metadata) {
    s = natsMsgHeader_Set(msg.get(), key.c_str(), value.c_str());
    if (s != NATS_OK) return NatsError(s, "header '" + key + "'");
  }
  if (message.content_type) {
    s = natsMsgHeader_Set(msg.get(), kContentTypeHeader, message.content_type->c_str());
    if (s != NATS_OK) return NatsError(s, "content type");
  }
  if (stored && reply) {
    s = natsMsgHeader_Set(msg.get(), kReplyToHeader, reply);
    if (s != NATS_OK) return NatsError(s, "reply address");
  }
  return msg;
}

// Core NATS has no acknowledgements: settling records the first call only.
class AtMostOnceAcker final : public Acker {
 public:
  Status Ack() override { return Settle(); }
  Status Nack(std::chrono::milliseconds) override { return Settle(); }
  Status Term() override { return Settle(); }

 private:
  Status Settle() {
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    return Status::Ok();
  }
  std::atomic<bool> settled_{false};
};

// A subscription's handler and the lock that keeps it from running after
// the subscription is gone. cnats calls OnMessage on the subscription's own
// delivery thread, one message at a time, and OnComplete once that thread is
// done with it; OnComplete frees the state, so a last OnMessage racing the
// unsubscribe still finds it.
struct SubState {
  std::mutex mutex;
  bool closed = false;
  SubscribeOptions options;
  DeliveryHandler handler;

  static void OnMessage(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
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

  static void OnComplete(void* closure) { delete static_cast<SubState*>(closure); }
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

class NatsSubscription final : public Subscription {
 public:
  // `state` belongs to cnats from here on (freed by SubState::OnComplete).
  // `keep_consumer`: a durable JetStream consumer outlives the subscription
  // (unsubscribing would delete it), so it is only let go of.
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

class NatsBroker final : public Broker {
 public:
  explicit NatsBroker(NatsOptions options) : options_(std::move(options)) {}
  ~NatsBroker() override { Close(); }

  std::string DisplayUrl() const override { return Redact(options_.url); }

  // With `jetstream` subjects set, subscriptions are expected to name a
  // stream, and deliveries are redelivered and durable.
  BrokerCapabilities Capabilities() const override {
    return {.headers = true, .native_request_reply = true, .queue_groups = true,
            .redelivery = !options_.jetstream_subjects.empty(),
            .durable = !options_.jetstream_subjects.empty()};
  }

  Status Connect() override {
    std::lock_guard lock(connect_mutex_);
    if (conn_) return Status::Ok();
    natsOptions* raw = nullptr;
    natsStatus s = natsOptions_Create(&raw);
    if (s != NATS_OK) return NatsError(s, "creating options");
    OptionsPtr opts(raw);
    auto check = [&](natsStatus st, const char* what) -> Status {
      if (st != NATS_OK) return NatsError(st, DisplayUrl() + ": " + what);
      return Status::Ok();
    };
    FERRY_RETURN_IF_ERROR(check(natsOptions_SetURL(opts.get(), options_.url.c_str()), "url"));
    FERRY_RETURN_IF_ERROR(check(natsOptions_SetName(opts.get(), options_.client_name.c_str()), "name"));
    FERRY_RETURN_IF_ERROR(check(natsOptions_SetTimeout(opts.get(), options_.connect_timeout.count()), "timeout"));
    FERRY_RETURN_IF_ERROR(check(natsOptions_SetMaxReconnect(opts.get(), -1), "reconnect"));
    FERRY_RETURN_IF_ERROR(
        check(natsOptions_SetReconnectWait(opts.get(), options_.reconnect_wait.count()), "reconnect wait"));
    // While disconnected, publishing must fail at once rather than pile up
    // in a buffer that a crash would lose; Publish checks the state first.
    FERRY_RETURN_IF_ERROR(check(natsOptions_SetAllowReconnect(opts.get(), true), "reconnect"));
    if (!options_.user.empty())
      FERRY_RETURN_IF_ERROR(check(natsOptions_SetUserInfo(opts.get(), options_.user.c_str(),
                                                          options_.password.c_str()), "user"));
    if (!options_.token.empty())
      FERRY_RETURN_IF_ERROR(check(natsOptions_SetToken(opts.get(), options_.token.c_str()), "token"));
    if (!options_.creds_file.empty())
      FERRY_RETURN_IF_ERROR(check(natsOptions_SetUserCredentialsFromFiles(
                                      opts.get(), options_.creds_file.c_str(), nullptr),
                                  "creds file"));
    if (options_.tls) FERRY_RETURN_IF_ERROR(check(natsOptions_SetSecure(opts.get(), true), "tls"));
    if (!options_.tls_ca_file.empty())
      FERRY_RETURN_IF_ERROR(check(natsOptions_LoadCATrustedCertificates(
                                      opts.get(), options_.tls_ca_file.c_str()), "tls_ca"));
    if (!options_.tls_cert_file.empty())
      FERRY_RETURN_IF_ERROR(check(natsOptions_LoadCertificatesChain(
                                      opts.get(), options_.tls_cert_file.c_str(),
                                      options_.tls_key_file.c_str()), "tls_cert"));
    natsOptions_SetDisconnectedCB(opts.get(), &NatsBroker::OnDisconnected, this);
    natsOptions_SetReconnectedCB(opts.get(), &NatsBroker::OnReconnected, this);
    natsOptions_SetClosedCB(opts.get(), &NatsBroker::OnClosed, this);
    natsOptions_SetErrorHandler(opts.get(), &NatsBroker::OnAsyncError, this);

    SetState(ConnectionState::kConnecting);
    natsConnection* conn = nullptr;
    s = natsConnection_Connect(&conn, opts.get());
    if (s != NATS_OK) {
      SetState(ConnectionState::kDisconnected);
      return Error::Connection("cannot connect to " + DisplayUrl() + ": " + natsStatus_GetText(s));
    }
    conn_.reset(conn);
    jsCtx* js = nullptr;
    s = natsConnection_JetStream(&js, conn, nullptr);
    if (s != NATS_OK) return NatsError(s, DisplayUrl() + ": JetStream context");
    js_.reset(js);
    SetState(ConnectionState::kConnected);
    return Status::Ok();
  }

  void Close() override {
    std::lock_guard lock(connect_mutex_);
    if (!conn_) return;
    SetState(ConnectionState::kClosed);  // before cnats reports the disconnect
    natsConnection_Close(conn_.get());
    js_.reset();
    conn_.reset();
    SetState(ConnectionState::kClosed);
  }

  ConnectionState State() const override { return state_.load(); }

  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    on_state_ = std::move(callback);
  }

  Status Publish(const Message& message, Deadline deadline) override {
    FERRY_RETURN_IF_ERROR(ValidateTopic(message.topic));
    natsConnection* conn = Connected();
    if (!conn) return NotConnected();
    const bool stored = Stored(message.topic);
    auto msg = ToNatsMsg(message, message.reply_to.empty() ? nullptr : message.reply_to.c_str(), stored);
    if (!msg.ok()) return msg.error();
    if (stored) {
      jsPubOptions jo;
      jsPubOptions_Init(&jo);
      jo.MaxWait = std::max<std::int64_t>(
          1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      jsPubAck* ack = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      natsStatus s = js_PublishMsg(&ack, js_.get(), msg->get(), &jo, &code);
      jsPubAck_Destroy(ack);
      if (s == NATS_OK) return Status::Ok();
      if (s == NATS_NO_RESPONDERS)
        return Error::Connection("no JetStream stream stores " + message.topic +
                                 " (the broker's jetstream setting covers it)");
      return NatsError(s, "publishing to " + message.topic + " (JetStream)");
    }
    natsStatus s = natsConnection_PublishMsg(conn, msg->get());
    if (s != NATS_OK) return NatsError(s, "publishing to " + message.topic);
    return Status::Ok();
  }

  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override {
    FERRY_RETURN_IF_ERROR(ValidatePattern(options.pattern));
    WarnUnknownExtensions("nats", options.extensions,
                          {"stream", "durable", "max_deliver", "ack_wait_ms", "deliver"});
    natsConnection* conn = Connected();
    if (!conn) return NotConnected();
    if (options.extensions.count("stream")) return SubscribeJetStream(std::move(options), std::move(handler));
    auto state = std::make_unique<SubState>();
    state->options = std::move(options);
    state->handler = std::move(handler);
    const std::string pattern = state->options.pattern;
    const std::string group = state->options.queue_group;
    natsSubscription* raw = nullptr;
    natsStatus s =
        group.empty()
            ? natsConnection_Subscribe(&raw, conn, pattern.c_str(), &SubState::OnMessage, state.get())
            : natsConnection_QueueSubscribe(&raw, conn, pattern.c_str(), group.c_str(),
                                            &SubState::OnMessage, state.get());
    if (s != NATS_OK) return NatsError(s, "subscribing to " + pattern);
    SubscriptionPtr sub(raw);
    s = natsSubscription_SetOnCompleteCB(sub.get(), &SubState::OnComplete, state.get());
    if (s != NATS_OK) {
      natsSubscription_Unsubscribe(sub.get());
      (void)state.release();  // a late OnMessage may still read it: leak rather than crash
      return NatsError(s, "subscribing to " + pattern);
    }
    auto out = std::make_unique<NatsSubscription>(state.release(), std::move(sub));
    // The subscription is live on the server once this returns, so a
    // publish that follows is seen.
    s = natsConnection_FlushTimeout(conn, options_.connect_timeout.count());
    if (s != NATS_OK) return NatsError(s, "subscribing to " + pattern);
    return std::unique_ptr<Subscription>(std::move(out));
  }

  Result<std::unique_ptr<Subscription>> SubscribeJetStream(SubscribeOptions options,
                                                           DeliveryHandler handler) {
    const auto& ext = options.extensions;
    const std::string stream = ext.at("stream");
    auto number = [&](const char* key, std::int64_t fallback) -> Result<std::int64_t> {
      auto it = ext.find(key);
      if (it == ext.end()) return fallback;
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
      if (ec != std::errc() || end != it->second.data() + it->second.size() || n < -1)
        return Error::InvalidArgument(std::string(key) + ": expected a whole number, got '" +
                                      it->second + "'");
      return n;
    };
    auto max_deliver = number("max_deliver", -1);
    if (!max_deliver.ok()) return max_deliver.error();
    auto ack_wait = number("ack_wait_ms", 30000);
    if (!ack_wait.ok()) return ack_wait.error();

    // The stream is made when missing, covering this subscription's subject.
    jsErrCode code = static_cast<jsErrCode>(0);
    jsStreamInfo* info = nullptr;
    natsStatus s = js_GetStreamInfo(&info, js_.get(), stream.c_str(), nullptr, &code);
    jsStreamInfo_Destroy(info);
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = stream.c_str();
      const char* subjects[] = {options.pattern.c_str()};
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      cfg.Storage = js_FileStorage;
      info = nullptr;
      s = js_AddStream(&info, js_.get(), &cfg, nullptr, &code);
      jsStreamInfo_Destroy(info);
      if (s != NATS_OK) return NatsError(s, "creating stream " + stream);
      spdlog::info("{}: created JetStream stream {} for {}", DisplayUrl(), stream, options.pattern);
    } else if (s != NATS_OK) {
      return NatsError(s, "looking up stream " + stream);
    }

    // A queue group's consumer is durable; its name carries a hash of the
    // subject, since one durable consumer cannot serve two subjects.
    std::string durable;
    if (auto it = ext.find("durable"); it != ext.end() && options.queue_group.empty()) {
      durable = it->second;
    } else if (!options.queue_group.empty()) {
      std::uint64_t h = 0xcbf29ce484222325ull;
      for (char c : options.pattern) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ull;
      durable = fmt::format("{}_{:08x}", options.queue_group, static_cast<std::uint32_t>(h));
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.ManualAck = true;
    // A JetStream queue (deliver group) must carry the durable's name.
    if (!options.queue_group.empty()) so.Queue = durable.c_str();
    if (!durable.empty()) so.Config.Durable = durable.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = *ack_wait * 1000000;
    so.Config.MaxDeliver = *max_deliver;
    so.Config.MaxAckPending = options.max_in_flight;
    if (auto it = ext.find("deliver"); it != ext.end() && it->second == "new")
      so.Config.DeliverPolicy = js_DeliverNew;

    auto state = std::make_unique<SubState>();
    state->options = std::move(options);
    state->handler = std::move(handler);
    natsSubscription* raw = nullptr;
    s = js_Subscribe(&raw, js_.get(), state->options.pattern.c_str(), &OnJetStreamMessage,
                     state.get(), nullptr, &so, &code);
    if (s != NATS_OK)
      return NatsError(s, "subscribing to " + state->options.pattern + " on stream " + stream);
    SubscriptionPtr sub(raw);
    s = natsSubscription_SetOnCompleteCB(sub.get(), &SubState::OnComplete, state.get());
    if (s != NATS_OK) {
      natsSubscription_Unsubscribe(sub.get());
      (void)state.release();
      return NatsError(s, "subscribing to " + stream);
    }
    return std::unique_ptr<Subscription>(
        new NatsSubscription(state.release(), std::move(sub), /*keep_consumer=*/!durable.empty()));
  }

  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override {
    FERRY_RETURN_IF_ERROR(ValidateTopic(message.topic));
    natsConnection* conn = Connected();
    if (!conn) return NotConnected();
    natsInbox* inbox = nullptr;
    natsStatus s = natsInbox_Create(&inbox);
    if (s != NATS_OK) return NatsError(s, "creating an inbox");
    const std::string reply = inbox;
    natsInbox_Destroy(inbox);
    natsSubscription* raw = nullptr;
    s = natsConnection_SubscribeSync(&raw, conn, reply.c_str());
    if (s != NATS_OK) return NatsError(s, "subscribing to the reply inbox");
    SubscriptionPtr sub(raw);
    if (Stored(message.topic)) {
      // Through JetStream: the stream's acknowledgement goes to the
      // publisher, the reply address travels in a header.
      Message request = message;
      request.reply_to = reply;
      Status sent = Publish(request, Clock::now() + options.timeout);
      if (!sent.ok()) return sent.error();
    } else {
      auto msg = ToNatsMsg(message, reply.c_str());
      if (!msg.ok()) return msg.error();
      s = natsConnection_PublishMsg(conn, msg->get());
      if (s != NATS_OK) return NatsError(s, "publishing to " + message.topic);
    }

    std::vector<Message> replies;
    const Deadline until = Clock::now() + options.timeout;
    while (replies.size() < options.expected_replies) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) break;
      natsMsg* got = nullptr;
      s = natsSubscription_NextMsg(&got, sub.get(), left);
      if (s == NATS_TIMEOUT) break;
      if (s == NATS_NO_RESPONDERS) {
        if (replies.empty()) return Error::Timeout("no one is listening on " + message.topic);
        break;
      }
      if (s != NATS_OK) return NatsError(s, "waiting for replies");
      MsgPtr owned(got);
      if (natsMsg_IsNoResponders(got)) {
        if (replies.empty())
          return Error::Timeout("no one is listening on " + message.topic);
        break;
      }
      replies.push_back(ToMessage(got));
    }
    natsSubscription_Unsubscribe(sub.get());
    if (replies.empty())
      return Error::Timeout("no reply on " + message.topic + " within " +
                            std::to_string(options.timeout.count()) + " ms");
    return replies;
  }

 private:
  // True when `topic` is published through JetStream.
  bool Stored(std::string_view topic) const {
    if (topic.starts_with("_INBOX.")) return false;
    for (const std::string& p : options_.jetstream_subjects)
      if (TopicMatches(p, topic)) return true;
    return false;
  }

  natsConnection* Connected() {
    std::lock_guard lock(connect_mutex_);
    if (!conn_ || state_.load() != ConnectionState::kConnected) return nullptr;
    return conn_.get();
  }

  Error NotConnected() const {
    return Error::Connection(DisplayUrl() + " is " +
                             std::string(ConnectionStateName(state_.load())));
  }

  void SetState(ConnectionState next) {
    if (state_.exchange(next) == next) return;
    if (on_state_) on_state_(next);
  }

  // cnats calls these on its own threads.
  static void OnDisconnected(natsConnection*, void* self) {
    auto* b = static_cast<NatsBroker*>(self);
    if (b->state_.load() == ConnectionState::kClosed) return;
    spdlog::warn("{}: connection lost, reconnecting", b->DisplayUrl());
    b->SetState(ConnectionState::kReconnecting);
  }
  static void OnReconnected(natsConnection*, void* self) {
    auto* b = static_cast<NatsBroker*>(self);
    spdlog::info("{}: reconnected", b->DisplayUrl());
    b->SetState(ConnectionState::kConnected);
  }
  static void OnClosed(natsConnection*, void* self) {
    static_cast<NatsBroker*>(self)->SetState(ConnectionState::kClosed);
  }
  static void OnAsyncError(natsConnection*, natsSubscription* sub, natsStatus s, void* self) {
    auto* b = static_cast<NatsBroker*>(self);
    if (s == NATS_SLOW_CONSUMER)
      spdlog::warn("{}: a subscription fell behind and the client dropped messages (core NATS "
                   "is at-most-once; use JetStream for delivery guarantees)",
                   b->DisplayUrl());
    else
      spdlog::warn("{}: {}", b->DisplayUrl(), natsStatus_GetText(s));
  }

  NatsOptions options_;
  std::mutex connect_mutex_;
  ConnectionPtr conn_;
  JsPtr js_;
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::function<void(ConnectionState)> on_state_;
};

Result<std::chrono::milliseconds> Millis(const std::string& key, const std::string& value) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size())
    return Error::InvalidArgument(key + ": expected milliseconds, got '" + value + "'");
  return std::chrono::milliseconds(n);
}

}  // namespace

std::unique_ptr<Broker> MakeNatsBroker(const NatsOptions& options) {
  return std::make_unique<NatsBroker>(options);
}

Result<NatsOptions> NatsOptionsFrom(std::string_view url,
                                    const std::map<std::string, std::string>& settings) {
  NatsOptions o;
  o.url = std::string(url);
  if (url.starts_with("tls://")) o.tls = true;
  for (const auto& [key, value] : settings) {
    if (key == "user") o.user = value;
    else if (key == "password") o.password = value;
    else if (key == "token") o.token = value;
    else if (key == "creds") o.creds_file = value;
    else if (key == "tls") o.tls = value == "true";
    else if (key == "tls_ca") o.tls_ca_file = value;
    else if (key == "tls_cert") o.tls_cert_file = value;
    else if (key == "tls_key") o.tls_key_file = value;
    else if (key == "name") o.client_name = value;
    else if (key == "jetstream") {
      o.jetstream_subjects.clear();
      std::size_t start = 0;
      while (start <= value.size()) {
        std::size_t comma = value.find(',', start);
        std::string p = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        p.erase(0, p.find_first_not_of(' '));
        p.erase(p.find_last_not_of(' ') + 1);
        if (p == "true") p = ">";
        if (!p.empty() && p != "false") {
          Status valid = ValidatePattern(p);
          if (!valid.ok()) return valid.error().WithContext("jetstream");
          o.jetstream_subjects.push_back(p);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    else if (key == "connect_timeout_ms") {
      auto ms = Millis(key, value);
      if (!ms.ok()) return ms.error();
      o.connect_timeout = *ms;
    } else if (key == "reconnect_wait_ms") {
      auto ms = Millis(key, value);
      if (!ms.ok()) return ms.error();
      o.reconnect_wait = *ms;
    } else {
      return Error::InvalidArgument("unknown option '" + key + "' for " + Redact(url) +
                                    " (known: user, password, token, creds, tls, tls_ca, "
                                    "tls_cert, tls_key, name, connect_timeout_ms, reconnect_wait_ms, "
                                    "jetstream)");
    }
  }
  auto env = [](const char* name, std::string& into) {
    if (const char* v = std::getenv(name); into.empty() && v && *v) into = v;
  };
  env("FERRY_NATS_USER", o.user);
  env("FERRY_NATS_PASSWORD", o.password);
  env("FERRY_NATS_TOKEN", o.token);
  return o;
}

}  // namespace ferry
