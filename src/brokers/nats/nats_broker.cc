#include "brokers/nats/nats_broker.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/nats/nats_internal.h"
#include "brokers/nats/nats_subscription.h"
#include "brokers/reply_wait.h"
#include "core/topic.h"

namespace ferry {
namespace {

using namespace nats_internal;

class NatsBroker;

// The closure of one connection's cnats callbacks. cnats calls them on its
// own threads and may do so after Close() returned (the closed callback is
// queued, not waited for), so they must not point at the broker: they go
// through this object, which Close() detaches from the broker and which the
// closed callback, the last one cnats makes, frees. The reconnect thread,
// which asks for ReconnectDelay, is joined by natsConnection_Close.
struct ConnectionEvents {
  std::mutex mutex;
  NatsBroker* broker = nullptr;  // null once detached
  std::string display_url;
  std::chrono::milliseconds first_wait{250};
  std::chrono::milliseconds max_wait{4000};
  // Async JetStream publishes of this connection: cnats calls back into
  // them until the connection is closed, so they live as long as this.
  std::shared_ptr<AsyncPublishes> publishes;

  static void OnDisconnected(natsConnection*, void* closure);
  static void OnReconnected(natsConnection*, void* closure);
  static void OnClosed(natsConnection*, void* closure);
  static void OnAsyncError(natsConnection*, natsSubscription*, natsStatus s, void* closure);
  // cnats's reconnect thread, after each pass over the server list: the
  // wait doubles from first_wait up to max_wait.
  static int64_t ReconnectDelay(natsConnection*, int attempts, void* closure) {
    auto* self = static_cast<ConnectionEvents*>(closure);
    return NatsReconnectDelay(self->first_wait, self->max_wait, attempts).count();
  }
};

// How long one JetStream publish attempt waits for its acknowledgement
// before it is sent again (NatsBroker::PublishStored).
// How often a request waiting for replies checks whether it was stopped.
constexpr std::int64_t kStopCheckMs = 50;
constexpr std::chrono::milliseconds kStoredAttemptWait{1000};
constexpr std::chrono::milliseconds kStoredAttemptWaitMax{8000};
// "Nats-Msg-Id: ferry-<token>\r\n", and the header block's own lines.
constexpr std::size_t kFerryMsgIdHeaderBytes = 96;

class NatsBroker final : public Broker {
 public:
  explicit NatsBroker(NatsOptions options) : options_(std::move(options)) {}
  ~NatsBroker() override { Close(); }

  std::string DisplayUrl() const override { return NatsDisplayUrl(options_.url); }

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
    auto* events = new ConnectionEvents;
    events->broker = this;
    events->display_url = DisplayUrl();
    events->first_wait = options_.reconnect_wait;
    events->max_wait = options_.max_reconnect_wait;
    FERRY_RETURN_IF_ERROR(check(natsOptions_SetCustomReconnectDelay(
                                    opts.get(), &ConnectionEvents::ReconnectDelay, events),
                                "reconnect wait"));
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
    natsOptions_SetDisconnectedCB(opts.get(), &ConnectionEvents::OnDisconnected, events);
    natsOptions_SetReconnectedCB(opts.get(), &ConnectionEvents::OnReconnected, events);
    natsOptions_SetClosedCB(opts.get(), &ConnectionEvents::OnClosed, events);
    natsOptions_SetErrorHandler(opts.get(), &ConnectionEvents::OnAsyncError, events);
    SetState(ConnectionState::kConnecting);
    natsConnection* conn = nullptr;
    s = natsConnection_Connect(&conn, opts.get());
    if (s != NATS_OK) {
      // No connection, so no closed callback to free `events`; whether cnats
      // still refers to it is not documented, so it is left allocated.
      events->broker = nullptr;
      SetState(ConnectionState::kDisconnected);
      return Error::Connection("cannot connect to " + DisplayUrl() + ": " +
                               ConnectFailureText(s, options_.tls && options_.tls_cert_file.empty()));
    }
    conn_.reset(conn);
    events_ = events;
    auto publishes = std::make_shared<AsyncPublishes>(options_.max_unconfirmed, DisplayUrl());
    jsOptions jo;
    jsOptions_Init(&jo);
    publishes->Configure(&jo, conn);
    jsCtx* js = nullptr;
    s = natsConnection_JetStream(&js, conn, &jo);
    if (s != NATS_OK) return NatsError(s, DisplayUrl() + ": JetStream context");
    js_.reset(js);
    events->publishes = publishes;
    publishes_ = std::move(publishes);
    SetState(ConnectionState::kConnected);
    return Status::Ok();
  }

  void Close() override {
    std::lock_guard lock(connect_mutex_);
    if (!conn_) return;
    SetState(ConnectionState::kClosed);  // before cnats reports the disconnect
    {
      std::lock_guard detach(events_->mutex);
      events_->broker = nullptr;
    }
    events_ = nullptr;  // freed by its closed callback
    natsConnection_Close(conn_.get());
    js_.reset();
    conn_.reset();
    // Whatever the stream had not acknowledged is lost to the sender.
    if (publishes_)
      publishes_->FailAll(Error::Connection(DisplayUrl() + ": the connection was closed before "
                                            "JetStream acknowledged a message"));
    publishes_.reset();
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
    if (!stored && message.metadata.empty() && !message.content_type) {
      // Nothing for headers: cnats publishes from the caller's buffer. A
      // natsMsg would be allocated, and handed to cnats's collector thread
      // (a futex wake) when destroyed.
      const int length = static_cast<int>(message.data.size());
      natsStatus s = message.reply_to.empty()
                         ? natsConnection_Publish(conn, message.topic.c_str(), message.data.data(), length)
                         : natsConnection_PublishRequest(conn, message.topic.c_str(), message.reply_to.c_str(),
                                                         message.data.data(), length);
      if (s != NATS_OK) return NatsError(s, "publishing to " + message.topic);
      return Status::Ok();
    }
    auto msg = ToNatsMsg(message, message.reply_to.empty() ? nullptr : message.reply_to.c_str(), stored);
    if (!msg.ok()) return msg.error();
    if (stored) return PublishStored(msg->get(), message.topic, MsgIdFor(message, conn), deadline);
    natsStatus s = natsConnection_PublishMsg(conn, msg->get());
    if (s != NATS_OK) return NatsError(s, "publishing to " + message.topic);
    return Status::Ok();
  }

  // JetStream subjects go through the window of unconfirmed publishes
  // (AsyncPublishes); core subjects are complete once sent.
  std::uint64_t UnconfirmedPublishes() const override {
    std::lock_guard lock(connect_mutex_);
    return publishes_ ? publishes_->window().used() : 0;
  }

  Status PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) override {
    if (!Stored(message.topic)) return Broker::PublishAsync(message, deadline, std::move(done));
    FERRY_RETURN_IF_ERROR(ValidateTopic(message.topic));
    natsConnection* conn = Connected();
    if (!conn) return NotConnected();
    auto msg = ToNatsMsg(message, message.reply_to.empty() ? nullptr : message.reply_to.c_str(), true);
    if (!msg.ok()) return msg.error();
    std::shared_ptr<AsyncPublishes> publishes;
    jsCtx* js = nullptr;
    {
      std::lock_guard lock(connect_mutex_);
      publishes = publishes_;
      js = js_.get();
    }
    if (!publishes || !js) return NotConnected();
    return publishes->Publish(js, std::move(msg).value(), message.topic, MsgIdFor(message, conn),
                              deadline, std::move(done));
  }

  // Publishes through JetStream and waits for the stream's acknowledgement.
  // A publish the server received just before it died is never answered, so
  // one attempt waits at most kStoredAttemptWait (doubling, up to the
  // deadline) and the next goes out under the same Nats-Msg-Id: the stream
  // keeps one copy whichever arrives (within its duplicate window, two
  // minutes by default). A sender's own Nats-Msg-Id is used as it is. An
  // attempt that times out with the connection down ends the publish.
  Status PublishStored(natsMsg* msg, const std::string& topic, const std::string& id,
                       Deadline deadline) {
    auto wait = id.empty() ? std::chrono::milliseconds::max() : kStoredAttemptWait;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      jsPubOptions jo;
      jsPubOptions_Init(&jo);
      if (!id.empty()) jo.MsgId = id.c_str();
      jo.MaxWait = std::max<std::int64_t>(1, std::min(left, wait).count());
      jsPubAck* ack = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      natsStatus s = js_PublishMsg(&ack, js_.get(), msg, &jo, &code);
      jsPubAck_Destroy(ack);
      if (s == NATS_OK) return Status::Ok();
      if (s == NATS_NO_RESPONDERS)
        return Error::Connection("no JetStream stream stores " + topic +
                                 " (the broker's jetstream setting covers it)");
      if (s != NATS_TIMEOUT || left <= wait) return NatsError(s, "publishing to " + topic + " (JetStream)");
      // Lost with the connection, as far as anyone can tell: the caller
      // decides (a component's delivery fails and is tried again).
      if (!Connected())
        return Error::Connection(DisplayUrl() + ": the connection dropped before JetStream "
                                 "acknowledged a message to " + topic);
      wait = std::min(wait * 2, kStoredAttemptWaitMax);  // only with an id: left > wait
    }
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
    auto out = MakeSubscription(state.release(), std::move(sub));
    // The subscription is live on the server once this returns, so a
    // publish that follows is seen.
    s = natsConnection_FlushTimeout(conn, options_.connect_timeout.count());
    if (s != NATS_OK) return NatsError(s, "subscribing to " + pattern);
    return std::unique_ptr<Subscription>(std::move(out));
  }

  // Adds `pattern` to the subjects of the stream `info` describes, unless
  // one of them covers it already.
  Status CoverSubject(jsStreamInfo* info, const std::string& pattern) {
    jsStreamConfig cfg = *info->Config;
    std::vector<const char*> subjects(cfg.Subjects, cfg.Subjects + cfg.SubjectsLen);
    for (const char* subject : subjects)
      if (ValidatePattern(subject).ok() && PatternCovers(subject, pattern)) return Status::Ok();
    subjects.push_back(pattern.c_str());
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    jsStreamInfo* updated = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_UpdateStream(&updated, js_.get(), &cfg, nullptr, &code);
    jsStreamInfo_Destroy(updated);
    if (s != NATS_OK) return NatsError(s, fmt::format("adding {} to stream {}", pattern, cfg.Name));
    spdlog::info("{}: added {} to JetStream stream {}", DisplayUrl(), pattern, cfg.Name);
    return Status::Ok();
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

    // The stream is made when missing, covering this subscription's subject;
    // an existing stream that does not cover it gets the subject added (a
    // 0.1.0 guest's update-guest-configuration adds channels at run time).
    jsErrCode code = static_cast<jsErrCode>(0);
    jsStreamInfo* info = nullptr;
    natsStatus s = js_GetStreamInfo(&info, js_.get(), stream.c_str(), nullptr, &code);
    if (s == NATS_OK) {
      Status covered = CoverSubject(info, options.pattern);
      jsStreamInfo_Destroy(info);
      FERRY_RETURN_IF_ERROR(covered);
    } else if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
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
    } else {
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
    return MakeSubscription(state.release(), std::move(sub), /*keep_consumer=*/!durable.empty());
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
    while (replies.size() < options.expected_replies && !options.stop.stop_requested()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) break;
      // In slices, so that a stop is noticed within one.
      natsMsg* got = nullptr;
      s = natsSubscription_NextMsg(&got, sub.get(), std::min<std::int64_t>(left, kStopCheckMs));
      if (s == NATS_TIMEOUT) continue;
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
    return RequestResult(std::move(replies), message, options);
  }

 private:
  // The Nats-Msg-Id a stored publish goes out under: the sender's own, or
  // Ferry's where its header still fits under the server's payload limit
  // (without one, a publish is never sent twice).
  static std::string MsgIdFor(const Message& message, natsConnection* conn) {
    if (const auto own = message.metadata.Get(kMsgIdHeader)) return std::string(*own);
    if (EncodedSize(message, true) + kFerryMsgIdHeaderBytes <=
        static_cast<std::size_t>(natsConnection_GetMaxPayload(conn)))
      return std::string(kFerryMsgIdPrefix) + RandomToken();
    return {};
  }

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

  friend struct ConnectionEvents;

  NatsOptions options_;
  mutable std::mutex connect_mutex_;
  ConnectionEvents* events_ = nullptr;  // of conn_; see ConnectionEvents
  ConnectionPtr conn_;
  JsPtr js_;
  std::shared_ptr<AsyncPublishes> publishes_;  // of js_
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::function<void(ConnectionState)> on_state_;
};

// cnats threads. Each holds the events lock while it reaches the broker, so
// once Close() detached it no callback is inside the broker any more.
void ConnectionEvents::OnDisconnected(natsConnection*, void* closure) {
  auto* self = static_cast<ConnectionEvents*>(closure);
  std::lock_guard lock(self->mutex);
  NatsBroker* b = self->broker;
  if (!b || b->state_.load() == ConnectionState::kClosed) return;
  spdlog::warn("{}: connection lost, reconnecting", self->display_url);
  b->SetState(ConnectionState::kReconnecting);
}

void ConnectionEvents::OnReconnected(natsConnection*, void* closure) {
  auto* self = static_cast<ConnectionEvents*>(closure);
  std::lock_guard lock(self->mutex);
  if (!self->broker) return;
  spdlog::info("{}: reconnected", self->display_url);
  self->broker->SetState(ConnectionState::kConnected);
}

void ConnectionEvents::OnClosed(natsConnection*, void* closure) {
  auto* self = static_cast<ConnectionEvents*>(closure);
  {
    std::lock_guard lock(self->mutex);
    if (self->broker) self->broker->SetState(ConnectionState::kClosed);
  }
  delete self;
}

void ConnectionEvents::OnAsyncError(natsConnection*, natsSubscription*, natsStatus s,
                                    void* closure) {
  auto* self = static_cast<ConnectionEvents*>(closure);
  if (s == NATS_SLOW_CONSUMER)
    spdlog::warn("{}: a subscription fell behind and the client dropped messages (core NATS "
                 "is at-most-once; use JetStream for delivery guarantees)",
                 self->display_url);
  else
    spdlog::warn("{}: {}", self->display_url, natsStatus_GetText(s));
}


}  // namespace

std::unique_ptr<Broker> MakeNatsBroker(const NatsOptions& options) {
  return std::make_unique<NatsBroker>(options);
}

}  // namespace ferry
