#include "brokers/redis/redis_broker.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/inbox_request.h"
#include "core/topic.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using redis::Connection;
using redis::Reply;

bool IsInbox(std::string_view topic) { return topic.starts_with("_INBOX."); }

// How long one XREADGROUP waits for new entries: also how late a streams
// reader notices a due retry or its own unsubscribe.
constexpr std::chrono::milliseconds kBlock{200};

std::string Str(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
             ? std::string(r->str, r->len)
             : std::string();
}

// Settles at most once; core of every acker here.
class OnceAcker : public Acker {
 protected:
  Status Claim() {
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    return Status::Ok();
  }

 private:
  std::atomic<bool> settled_{false};
};

class AtMostOnceAcker final : public OnceAcker {
 public:
  Status Ack() override { return Claim(); }
  Status Nack(std::chrono::milliseconds) override { return Claim(); }
  Status Term() override { return Claim(); }
  bool Redelivers() const override { return false; }
};

class RedisBroker;

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

// ---- streams ---------------------------------------------------------------

struct StreamSub;

class StreamAcker final : public OnceAcker {
 public:
  StreamAcker(std::shared_ptr<StreamSub> sub, std::string id, Message message, std::uint32_t attempt)
      : sub_(std::move(sub)), id_(std::move(id)), message_(std::move(message)), attempt_(attempt) {}
  Status Ack() override;
  Status Nack(std::chrono::milliseconds delay) override;
  Status Term() override;

 private:
  std::shared_ptr<StreamSub> sub_;
  std::string id_;
  Message message_;
  std::uint32_t attempt_;
};

// What a streams subscription shares with its ackers (which may outlive it).
struct StreamSub : std::enable_shared_from_this<StreamSub> {
  RedisBroker* broker = nullptr;
  std::string key, group, consumer;
  bool ephemeral_group = false;
  std::uint32_t max_deliver = 0;  // 0: no limit here (the runtime's policy applies)
  SubscribeOptions options;
  DeliveryHandler handler;

  std::mutex mutex;
  struct Retry {
    Deadline at;
    std::string id;
    std::uint32_t attempt;
  };
  std::vector<Retry> retries;
  // Entries this subscription holds: delivered and not yet settled, or
  // waiting for a retry. Other pending entries of ours (a failed Term, say)
  // are taken back by the idle scan like anyone else's.
  std::set<std::string> held;
  std::atomic<std::uint32_t> in_flight{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> paused{false};
  // Set once the reader is about to wait for new entries: Subscribe returns
  // then, so a queue-group member is reading before the publishing starts
  // and gets its share (else the first reader up takes the whole backlog).
  bool reading = false;
  std::condition_variable reading_cv;
  std::atomic<bool> first_read_done{false};

  void Deliver(const std::string& id, Message message, std::uint32_t attempt);
};

class StreamSubscription final : public Subscription {
 public:
  StreamSubscription(std::shared_ptr<StreamSub> sub, std::unique_ptr<Connection> conn)
      : sub_(std::move(sub)), conn_(std::move(conn)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~StreamSubscription() override;
  void Pause() override { sub_->paused = true; }

 private:
  void Run();
  Status Poll();
  void Forget(const std::string& id) {
    std::lock_guard lock(sub_->mutex);
    sub_->held.erase(id);
  }

  std::shared_ptr<StreamSub> sub_;
  std::unique_ptr<Connection> conn_;
  Deadline next_claim_{};
  std::string claim_cursor_ = "-";  // where the next idle scan starts
  std::thread thread_;
};

// ---- the broker ------------------------------------------------------------

class RedisBroker final : public Broker {
 public:
  explicit RedisBroker(RedisOptions options)
      : options_(std::move(options)),
        display_("redis://" + options_.endpoint.host + ":" + std::to_string(options_.endpoint.port) +
                 (options_.endpoint.db ? "/" + std::to_string(options_.endpoint.db) : "")),
        consumer_prefix_(fmt::format("ferry-{}-{}", ::getpid(), RandomToken())) {}
  ~RedisBroker() override { Close(); }

  std::string DisplayUrl() const override { return display_; }
  BrokerCapabilities Capabilities() const override {
    const bool streams = options_.publish_streams;
    return {.headers = true, .native_request_reply = false, .queue_groups = streams,
            .redelivery = streams, .durable = streams, .wildcard_subscriptions = !streams};
  }

  Status Connect() override {
    std::lock_guard lock(cmd_mutex_);
    if (cmd_ && !cmd_->broken()) return Status::Ok();
    SetState(ConnectionState::kConnecting);
    auto conn = Connection::Open(options_.endpoint, display_);
    if (!conn.ok()) {
      SetState(ConnectionState::kDisconnected);
      return conn.error();
    }
    cmd_ = std::move(conn).value();
    cmd_->SetTimeout(options_.command_timeout);
    closed_ = false;
    SetState(ConnectionState::kConnected);
    return Status::Ok();
  }

  void Close() override {
    std::lock_guard lock(cmd_mutex_);
    closed_ = true;
    cmd_.reset();
    SetState(ConnectionState::kClosed);
  }

  ConnectionState State() const override { return state_.load(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    on_state_ = std::move(callback);
  }

  Status Publish(const Message& message, Deadline) override {
    FERRY_RETURN_IF_ERROR(ValidateTopic(message.topic));
    if (options_.publish_streams && !IsInbox(message.topic)) {
      std::vector<std::string> cmd{"XADD", message.topic};
      if (options_.max_len > 0) {
        cmd.insert(cmd.end(), {"MAXLEN", "~", std::to_string(options_.max_len)});
      }
      cmd.push_back("*");
      for (std::string& f : redis::StreamFields(message)) cmd.push_back(std::move(f));
      auto r = Run(cmd);
      return r.ok() ? Status::Ok() : Status(r.error());
    }
    auto r = Run({"PUBLISH", message.topic, redis::Encode(message)});
    return r.ok() ? Status::Ok() : Status(r.error());
  }

  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override;

  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override {
    return RequestViaInbox(*this, message, options);
  }

  // Runs one command on the shared command connection, reconnecting (at most
  // every 200 ms) when the link broke. Thread-safe.
  Result<Reply> Run(const std::vector<std::string>& args) {
    std::lock_guard lock(cmd_mutex_);
    if (closed_) return Error::Connection(display_ + " is closed");
    if (!cmd_ || cmd_->Stale()) {
      if (Clock::now() < next_reconnect_)
        return Error::Connection(display_ + " is unreachable; retrying");
      auto conn = Connection::Open(Quick(), display_);
      if (!conn.ok()) {
        next_reconnect_ = Clock::now() + 200ms;
        SetState(ConnectionState::kReconnecting);
        return conn.error();
      }
      cmd_ = std::move(conn).value();
      cmd_->SetTimeout(options_.command_timeout);
      spdlog::info("{}: reconnected", display_);
      SetState(ConnectionState::kConnected);
    }
    auto r = cmd_->Command(args);
    if (!r.ok() && cmd_->broken()) {
      spdlog::warn("{}: connection lost", display_);
      SetState(ConnectionState::kReconnecting);
    }
    return r;
  }

  // Endpoint with a short connect timeout, for reconnecting without stalls.
  redis::Endpoint Quick() const {
    redis::Endpoint e = options_.endpoint;
    e.connect_timeout = std::min<std::chrono::milliseconds>(e.connect_timeout, 500ms);
    return e;
  }
  const RedisOptions& options() const { return options_; }
  // A streams reader's connection: commands plus the XREADGROUP BLOCK time.
  std::chrono::milliseconds ReadTimeout() const { return options_.command_timeout + kBlock; }
  const std::string& display() const { return display_; }
  bool closed() const { return closed_; }

 private:
  void SetState(ConnectionState next) {
    if (state_.exchange(next) == next) return;
    if (on_state_) on_state_(next);
  }

  RedisOptions options_;
  std::string display_;
  std::string consumer_prefix_;
  std::atomic<std::uint64_t> consumer_counter_{0};
  std::mutex cmd_mutex_;
  std::unique_ptr<Connection> cmd_;
  std::atomic<bool> closed_{false};
  Deadline next_reconnect_{};
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::function<void(ConnectionState)> on_state_;

  friend class StreamSubscription;
  friend class PubSubSubscription;
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

// ---- streams reading ---------------------------------------------------------

void StreamSub::Deliver(const std::string& id, Message message, std::uint32_t attempt) {
  {
    std::lock_guard lock(mutex);
    held.insert(id);
  }
  Delivery d;
  d.message = message;
  d.attempt = attempt;
  d.pattern = options.pattern;
  in_flight.fetch_add(1);
  auto acker = std::make_shared<StreamAcker>(shared_from_this(), id, std::move(message), attempt);
  if (options.manual_ack) d.acker = acker;
  handler(std::move(d));
  if (!options.manual_ack) (void)acker->Ack();
}

Status StreamAcker::Ack() {
  FERRY_RETURN_IF_ERROR(Claim());
  sub_->in_flight.fetch_sub(1);
  auto r = sub_->broker->Run({"XACK", sub_->key, sub_->group, id_});
  // Acknowledged, or left pending for the idle scan to deliver again.
  std::lock_guard lock(sub_->mutex);
  sub_->held.erase(id_);
  return r.ok() ? Status::Ok() : Status(r.error());
}

Status StreamAcker::Nack(std::chrono::milliseconds delay) {
  FERRY_RETURN_IF_ERROR(Claim());
  sub_->in_flight.fetch_sub(1);
  // The entry stays pending; the reader claims it again once the delay is up.
  std::lock_guard lock(sub_->mutex);
  sub_->retries.push_back({Clock::now() + delay, id_, attempt_ + 1});
  return Status::Ok();
}

Status StreamAcker::Term() {
  FERRY_RETURN_IF_ERROR(Claim());
  sub_->in_flight.fetch_sub(1);
  const std::string dead = sub_->key + sub_->broker->options().dead_letter_suffix;
  std::vector<std::string> cmd{"XADD", dead, "*"};
  for (std::string& f : redis::StreamFields(message_)) cmd.push_back(std::move(f));
  cmd.insert(cmd.end(), {"ferry-source-id", id_, "ferry-attempts", std::to_string(attempt_)});
  auto moved = sub_->broker->Run(cmd);
  Result<Reply> r = moved.ok() ? sub_->broker->Run({"XACK", sub_->key, sub_->group, id_})
                               : Result<Reply>(moved.error());
  // On failure the entry stays pending and the idle scan delivers it again.
  std::lock_guard lock(sub_->mutex);
  sub_->held.erase(id_);
  return r.ok() ? Status::Ok() : Status(r.error());
}

StreamSubscription::~StreamSubscription() {
  sub_->stop = true;
  thread_.join();
  if (sub_->ephemeral_group)
    (void)sub_->broker->Run({"XGROUP", "DESTROY", sub_->key, sub_->group});
}

void StreamSubscription::Run() {
  auto backoff = 100ms;
  while (!sub_->stop.load()) {
    if (!conn_ || conn_->broken()) {
      auto fresh = Connection::Open(sub_->broker->Quick(), sub_->broker->display());
      if (!fresh.ok()) {
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        continue;
      }
      conn_ = std::move(fresh).value();
      conn_->SetTimeout(sub_->broker->ReadTimeout());
      // The server may have lost the group with its data: make sure it exists.
      (void)conn_->Command({"XGROUP", "CREATE", sub_->key, sub_->group, "0", "MKSTREAM"});
      backoff = 100ms;
    }
    Status s = Poll();
    if (!s.ok() && !conn_->broken())
      spdlog::warn("{}: reading {}: {}", sub_->broker->display(), sub_->key, s.error().message());
  }
}

// One round: due retries, entries abandoned by other consumers, new entries.
Status StreamSubscription::Poll() {
  if (sub_->paused.load()) {
    // Shutting down: take nothing more; what is pending stays for others.
    std::this_thread::sleep_for(20ms);
    return Status::Ok();
  }
  auto deliver_entries = [&](const redisReply* entries, std::uint32_t attempt) {
    if (!entries || entries->type != REDIS_REPLY_ARRAY) return;
    for (std::size_t i = 0; i < entries->elements; ++i) {
      // Read after Close(): left pending, for the idle scan to hand out.
      if (sub_->broker->closed()) return;
      const redisReply* e = entries->element[i];
      if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;  // deleted meanwhile
      sub_->Deliver(Str(e->element[0]), redis::FromStreamFields(sub_->key, e->element[1]), attempt);
    }
  };
  // Takes `id` for this consumer and hands it to the dead-letter stream.
  // A failed claim leaves everything as it was.
  auto dead_letter = [&](const std::string& id, std::uint32_t attempt) -> Status {
    auto got = conn_->Command({"XCLAIM", sub_->key, sub_->group, sub_->consumer, "0", id});
    if (!got.ok()) return got.error();
    if ((*got)->elements == 0 || (*got)->element[0]->type != REDIS_REPLY_ARRAY) {
      Forget(id);  // deleted from the stream meanwhile
      return Status::Ok();
    }
    const redisReply* e = (*got)->element[0];
    sub_->in_flight.fetch_add(1);  // Term settles it
    (void)StreamAcker(sub_, id, redis::FromStreamFields(sub_->key, e->element[1]), attempt).Term();
    return Status::Ok();
  };

  std::vector<StreamSub::Retry> due;
  {
    std::lock_guard lock(sub_->mutex);
    auto now = Clock::now();
    for (auto it = sub_->retries.begin(); it != sub_->retries.end();) {
      if (it->at <= now) {
        due.push_back(*it);
        it = sub_->retries.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (std::size_t i = 0; i < due.size(); ++i) {
    const auto& r = due[i];
    Status done = Status::Ok();
    if (sub_->max_deliver && r.attempt > sub_->max_deliver) {
      done = dead_letter(r.id, r.attempt - 1);
    } else {
      auto got = conn_->Command({"XCLAIM", sub_->key, sub_->group, sub_->consumer, "0", r.id});
      if (got.ok()) {
        if ((*got)->elements == 0) Forget(r.id);  // deleted from the stream meanwhile
        deliver_entries(got->get(), r.attempt);
      } else {
        done = got.error();
      }
    }
    if (!done.ok()) {
      // The link broke (the server is down, say): the entries stay pending
      // and their retries wait for the reconnect instead of being dropped.
      std::lock_guard lock(sub_->mutex);
      sub_->retries.insert(sub_->retries.end(), due.begin() + static_cast<std::ptrdiff_t>(i), due.end());
      return done;
    }
  }

  const auto claim_idle = sub_->broker->options().claim_idle;
  if (claim_idle.count() > 0 && Clock::now() >= next_claim_) {
    next_claim_ = Clock::now() + std::max<std::chrono::milliseconds>(claim_idle / 4, 250ms);
    // Pages through the group's idle entries, 256 a round, so entries this
    // subscription holds (slow handlers, retries waiting) cannot hide the
    // ones behind them. XAUTOCLAIM would claim held entries too.
    constexpr std::size_t kClaimBatch = 256;
    auto pending = conn_->Command({"XPENDING", sub_->key, sub_->group, "IDLE",
                                  std::to_string(claim_idle.count()), claim_cursor_, "+",
                                  std::to_string(kClaimBatch)});
    if (!pending.ok()) return pending.error();
    const std::size_t listed = (*pending)->elements;
    claim_cursor_ = "-";
    if (listed == kClaimBatch) {
      const redisReply* last = (*pending)->element[listed - 1];
      if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1)
        claim_cursor_ = "(" + Str(last->element[0]);
    }
    for (std::size_t i = 0; i < listed; ++i) {
      const redisReply* p = (*pending)->element[i];
      if (p->type != REDIS_REPLY_ARRAY || p->elements < 4) continue;
      const std::string id = Str(p->element[0]);
      {
        std::lock_guard lock(sub_->mutex);
        if (sub_->held.count(id)) continue;  // in hand or waiting for its retry
      }
      const auto deliveries = static_cast<std::uint32_t>(p->element[3]->integer);
      if (sub_->max_deliver && deliveries >= sub_->max_deliver) {
        FERRY_RETURN_IF_ERROR(dead_letter(id, deliveries));
        continue;
      }
      auto got = conn_->Command({"XCLAIM", sub_->key, sub_->group, sub_->consumer,
                                 std::to_string(claim_idle.count()), id});
      if (!got.ok()) return got.error();
      deliver_entries(got->get(), deliveries + 1);
    }
    // A full batch means more are waiting (a host went away): scan the next
    // page now.
    if (listed == kClaimBatch) next_claim_ = Clock::now();
  }

  // Close(): nothing new is read; entries wait in the stream.
  if (sub_->broker->closed()) {
    std::this_thread::sleep_for(50ms);
    return Status::Ok();
  }
  // Back-pressure: read nothing new while the runtime holds enough.
  if (sub_->in_flight.load() >= sub_->options.max_in_flight) {
    std::this_thread::sleep_for(10ms);
    return Status::Ok();
  }
  const std::uint32_t room = sub_->options.max_in_flight - sub_->in_flight.load();
  // Small batches: in a queue group, a consumer that comes back to a backlog
  // takes its share, not the whole backlog, while the others are busy.
  constexpr std::uint32_t kBatch = 16;
  {
    std::lock_guard lock(sub_->mutex);
    if (!sub_->reading) {
      sub_->reading = true;
      sub_->reading_cv.notify_all();
    }
  }
  auto read = conn_->Command({"XREADGROUP", "GROUP", sub_->group, sub_->consumer, "COUNT",
                              std::to_string(std::min(room, kBatch)), "BLOCK",
                              std::to_string(kBlock.count()),
                              "STREAMS", sub_->key, ">"});
  if (!read.ok()) {
    if (read.error().message().find("NOGROUP") != std::string::npos)
      (void)conn_->Command({"XGROUP", "CREATE", sub_->key, sub_->group, "0", "MKSTREAM"});
    return read.error();
  }
  sub_->first_read_done = true;
  const redisReply* r = read->get();
  if (r->type != REDIS_REPLY_ARRAY) return Status::Ok();  // nil: nothing new
  for (std::size_t s = 0; s < r->elements; ++s) {
    const redisReply* stream = r->element[s];
    if (stream->type == REDIS_REPLY_ARRAY && stream->elements == 2)
      deliver_entries(stream->element[1], 1);
  }
  return Status::Ok();
}

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

  if (options.pattern.find_first_of("*>") != std::string::npos)
    return Error::Unsupported("Redis streams are read one topic at a time; '" + options.pattern +
                              "' has a wildcard");
  auto sub = std::make_shared<StreamSub>();
  sub->broker = this;
  sub->key = options.pattern;
  if (!options.queue_group.empty()) {
    sub->group = options.queue_group;
  } else if (auto it = options.extensions.find("group"); it != options.extensions.end()) {
    sub->group = it->second;
  } else {
    sub->group = "ferry-" + RandomToken();
    sub->ephemeral_group = true;
  }
  if (auto it = options.extensions.find("max_deliver"); it != options.extensions.end()) {
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (ec != std::errc() || end != it->second.data() + it->second.size())
      return Error::InvalidArgument("max_deliver: expected a whole number, got '" + it->second + "'");
    sub->max_deliver = n;
  }
  sub->consumer = consumer_prefix_ + "-" + std::to_string(consumer_counter_.fetch_add(1));
  // A new group starts at the end of the stream; a durable group resumes.
  auto created = (*conn)->Command({"XGROUP", "CREATE", sub->key, sub->group, "$", "MKSTREAM"});
  if (!created.ok() && created.error().message().find("BUSYGROUP") == std::string::npos)
    return created.error();
  sub->options = std::move(options);
  sub->handler = std::move(handler);
  (*conn)->SetTimeout(ReadTimeout());
  auto reader_id = (*conn)->Command({"CLIENT", "ID"});
  std::shared_ptr<StreamSub> shared = sub;
  std::unique_ptr<Subscription> subscription(new StreamSubscription(std::move(sub), std::move(conn).value()));
  // Return once the reader waits at the server (or has read already), so a
  // queue-group member is in line before anything is published.
  const Deadline give_up = Clock::now() + 2s;
  {
    std::unique_lock lock(shared->mutex);
    shared->reading_cv.wait_until(lock, give_up, [&] { return shared->reading; });
  }
  while (reader_id.ok() && !shared->first_read_done && Clock::now() < give_up) {
    auto info = Run({"CLIENT", "LIST", "ID", std::to_string((*reader_id)->integer)});
    if (!info.ok() || Str(info->get()).find(" flags=b") != std::string::npos) break;
    std::this_thread::sleep_for(1ms);
  }
  return subscription;
}

}  // namespace

std::unique_ptr<Broker> MakeRedisBroker(const RedisOptions& options) {
  return std::make_unique<RedisBroker>(options);
}

}  // namespace ferry
