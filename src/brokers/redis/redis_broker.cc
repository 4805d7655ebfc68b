// The Redis adapter: the broker (connection, publishing, request-reply via
// inboxes) and pub/sub subscriptions. Streams subscriptions are in
// redis_streams.cc.
#include "brokers/redis/redis_broker.h"

#include <mutex>
#include <thread>

#include "brokers/redis/redis_internal.h"
#include "core/topic.h"

namespace ferry {
namespace redis_internal {
namespace {

class AtMostOnceAcker final : public OnceAcker {
 public:
  Status Ack() override { return Claim(); }
  Status Nack(std::chrono::milliseconds) override { return Claim(); }
  Status Term() override { return Claim(); }
  bool Redelivers() const override { return false; }
};

// ---- pub/sub ---------------------------------------------------------------

class PubSubSubscription final : public Subscription {
 public:
  PubSubSubscription(RedisBroker& broker, SubscribeOptions options, DeliveryHandler handler,
                     std::unique_ptr<Connection> conn)
      : broker_(broker), options_(std::move(options)), handler_(std::move(handler)),
        conn_(std::move(conn)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~PubSubSubscription() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      if (conn_) conn_->Interrupt();
    }
    thread_.join();
  }

  // The command that starts this subscription on a fresh connection.
  static std::vector<std::string> SubscribeCommand(const std::string& pattern) {
    if (pattern.find_first_of("*>") == std::string::npos) return {"SUBSCRIBE", pattern};
    return {"PSUBSCRIBE", redis::ToGlob(pattern)};
  }

 private:
  void Run();
  void Deliver(std::string_view channel, std::string_view payload) {
    if (!TopicMatches(options_.pattern, channel)) return;  // the glob was wider
    Delivery d;
    d.message = redis::Decode(channel, payload);
    d.pattern = options_.pattern;
    if (options_.manual_ack) d.acker = std::make_shared<AtMostOnceAcker>();
    handler_(std::move(d));
  }

  RedisBroker& broker_;
  SubscribeOptions options_;
  DeliveryHandler handler_;
  std::mutex mutex_;  // guards conn_ replacement against Interrupt
  std::unique_ptr<Connection> conn_;
  bool stop_ = false;
  std::thread thread_;
};

// ---- pub/sub reading ---------------------------------------------------------

void PubSubSubscription::Run() {
  auto backoff = 100ms;
  while (true) {
    Connection* conn = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      conn = conn_.get();
    }
    if (!conn || conn->broken()) {
      auto fresh = Connection::Open(broker_.Quick(), broker_.display());
      if (fresh.ok() && (*fresh)->Command(SubscribeCommand(options_.pattern)).ok()) {
        (*fresh)->SetTimeout(0ms);  // quiet channels are not a broken link
        std::lock_guard lock(mutex_);
        if (stop_) return;
        conn_ = std::move(fresh).value();
        backoff = 100ms;
        spdlog::info("{}: subscribed to {} again", broker_.display(), options_.pattern);
        continue;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    auto reply = conn->Next();
    if (!reply.ok()) {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      spdlog::warn("{}: subscription to {} lost its connection; messages published meanwhile "
                   "are not delivered (pub/sub is at-most-once)",
                   broker_.display(), options_.pattern);
      continue;
    }
    if (broker_.closed()) continue;  // Close(): subscriptions stop delivering
    const redisReply* r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) continue;
    const std::string kind = Str(r->element[0]);
    if (kind == "message")
      Deliver(Str(r->element[1]), std::string_view(r->element[2]->str, r->element[2]->len));
    else if (kind == "pmessage" && r->elements >= 4)
      Deliver(Str(r->element[2]), std::string_view(r->element[3]->str, r->element[3]->len));
  }
}

}  // namespace

Result<std::unique_ptr<Subscription>> RedisBroker::Subscribe(SubscribeOptions options,
                                                             DeliveryHandler handler) {
  FERRY_RETURN_IF_ERROR(ValidatePattern(options.pattern));
  WarnUnknownExtensions("redis", options.extensions, {"mode", "group", "max_deliver"});
  if (closed_) return Error::Connection(display_ + " is closed");
  bool streams = options_.publish_streams;
  if (auto it = options.extensions.find("mode"); it != options.extensions.end()) {
    if (it->second != "pubsub" && it->second != "streams")
      return Error::InvalidArgument("mode: expected \"pubsub\" or \"streams\", got '" + it->second + "'");
    streams = it->second == "streams";
  }
  if (IsInbox(options.pattern)) streams = false;

  auto conn = Connection::Open(options_.endpoint, display_);
  if (!conn.ok()) return conn.error();

  if (!streams) {
    if (!options.queue_group.empty())
      return Error::Unsupported(
          "Redis pub/sub has no queue groups; use mode = \"streams\" for " + options.pattern);
    auto confirmed = (*conn)->Command(PubSubSubscription::SubscribeCommand(options.pattern));
    if (!confirmed.ok()) return confirmed.error();
    (*conn)->SetTimeout(0ms);  // quiet channels are not a broken link
    return std::unique_ptr<Subscription>(new PubSubSubscription(
        *this, std::move(options), std::move(handler), std::move(conn).value()));
  }

  return SubscribeStreams(*this, std::move(conn).value(), std::move(options), std::move(handler));
}

}  // namespace redis_internal

std::unique_ptr<Broker> MakeRedisBroker(const RedisOptions& options) {
  return std::make_unique<redis_internal::RedisBroker>(options);
}

}  // namespace ferry
