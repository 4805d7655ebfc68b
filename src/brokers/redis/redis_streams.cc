// Streams subscriptions of the Redis adapter: XREADGROUP through a consumer
// group, XACK when settled (batched by a thread of the subscription's own),
// retries and idle entries claimed back.
#include <charconv>
#include <condition_variable>
#include <set>
#include <thread>

#include "brokers/redis/redis_internal.h"

namespace ferry::redis_internal {
namespace {

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

  // Settled entries waiting for their XACK (under `mutex`). The acker
  // thread sends one XACK for all that are waiting, so settling many
  // deliveries at once (pipelined sends confirm in bursts, on the thread
  // that reads their replies) costs one round trip, and that thread goes
  // on reading. An entry counts as in flight until its XACK was sent, so
  // the reader's back-pressure covers this queue too.
  std::vector<std::string> acks;
  std::condition_variable acks_cv;
  // The reader waits here while the runtime holds max_in_flight entries;
  // whatever settles an entry wakes it (GiveBackLocked).
  std::condition_variable room_cv;
  bool acker_running = false;  // false: Ack sends its own XACK
  bool acker_stop = false;

  void Deliver(const std::string& id, Message message, std::uint32_t attempt);
  // Gives `n` places of the in-flight window back and wakes a reader held
  // at it. Caller holds `mutex`, so the reader cannot miss the wake.
  void GiveBackLocked(std::uint32_t n) {
    in_flight.fetch_sub(n);
    room_cv.notify_all();
  }
  // Queues `id` for the acker thread; false when it is not running.
  bool QueueAck(const std::string& id);
  void AckLoop();
};

class StreamSubscription final : public Subscription {
 public:
  StreamSubscription(std::shared_ptr<StreamSub> sub, std::unique_ptr<Connection> conn)
      : sub_(std::move(sub)), conn_(std::move(conn)) {
    sub_->acker_running = true;
    acker_ = std::thread([sub = sub_] { sub->AckLoop(); });
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
  std::thread acker_;
  std::thread thread_;
};

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

bool StreamSub::QueueAck(const std::string& id) {
  {
    std::lock_guard lock(mutex);
    if (!acker_running) return false;
    acks.push_back(id);
  }
  acks_cv.notify_one();
  return true;
}

void StreamSub::AckLoop() {
  std::unique_lock lock(mutex);
  for (;;) {
    acks_cv.wait(lock, [&] { return !acks.empty() || acker_stop; });
    if (acks.empty()) break;  // stopping, and nothing left to send
    std::vector<std::string> ids;
    ids.swap(acks);
    lock.unlock();
    std::vector<std::string> cmd{"XACK", key, group};
    cmd.insert(cmd.end(), ids.begin(), ids.end());
    auto r = broker->Run(cmd);
    if (!r.ok())
      spdlog::warn("{}: acknowledging {} entries of {}: {}; they stay pending and are delivered again",
                   broker->display(), ids.size(), key, r.error().message());
    lock.lock();
    for (const std::string& id : ids) held.erase(id);
    GiveBackLocked(static_cast<std::uint32_t>(ids.size()));
  }
  acker_running = false;
}

Status StreamAcker::Ack() {
  FERRY_RETURN_IF_ERROR(Claim());
  // Sent by the acker thread; a failure there leaves the entry pending,
  // for the idle scan to deliver again.
  if (sub_->QueueAck(id_)) return Status::Ok();
  {
    std::lock_guard lock(sub_->mutex);
    sub_->GiveBackLocked(1);
  }
  auto r = sub_->broker->Run({"XACK", sub_->key, sub_->group, id_});
  // Acknowledged, or left pending for the idle scan to deliver again.
  std::lock_guard lock(sub_->mutex);
  sub_->held.erase(id_);
  return r.ok() ? Status::Ok() : Status(r.error());
}

Status StreamAcker::Nack(std::chrono::milliseconds delay) {
  FERRY_RETURN_IF_ERROR(Claim());
  // The entry stays pending; the reader claims it again once the delay is up.
  std::lock_guard lock(sub_->mutex);
  sub_->GiveBackLocked(1);
  sub_->retries.push_back({Clock::now() + delay, id_, attempt_ + 1});
  return Status::Ok();
}

Status StreamAcker::Term() {
  FERRY_RETURN_IF_ERROR(Claim());
  {
    std::lock_guard lock(sub_->mutex);
    sub_->GiveBackLocked(1);
  }
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
  // What is settled by now is acknowledged before the subscription ends;
  // later settlements send their own XACK.
  {
    std::lock_guard lock(sub_->mutex);
    sub_->acker_stop = true;
  }
  sub_->acks_cv.notify_all();
  acker_.join();
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
    std::unique_lock lock(sub_->mutex);
    sub_->room_cv.wait_for(lock, 10ms, [&] {
      return sub_->in_flight.load() < sub_->options.max_in_flight || sub_->stop.load();
    });
    return Status::Ok();
  }
  const std::uint32_t room = sub_->options.max_in_flight - sub_->in_flight.load();
  // Batches of up to 256 (and never past max_in_flight): on a busy stream
  // the server's work per XREADGROUP is what limits the echo (16 B,
  // ferry_broker_bench: 59k msg/s reading 16 at a time, 84-101k reading
  // 64; Ferry / native 0.83 reading 256 against 0.77 reading 64, medians
  // of four runs). In a queue group a consumer that comes back to a
  // backlog still takes at most this much of it at a time.
  constexpr std::uint32_t kBatch = 256;
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

}  // namespace

Result<std::unique_ptr<Subscription>> SubscribeStreams(RedisBroker& broker,
                                                       std::unique_ptr<redis::Connection> conn,
                                                       SubscribeOptions options, DeliveryHandler handler) {
  if (options.pattern.find_first_of("*>") != std::string::npos)
    return Error::Unsupported("Redis streams are read one topic at a time; '" + options.pattern +
                              "' has a wildcard");
  auto sub = std::make_shared<StreamSub>();
  sub->broker = &broker;
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
  sub->consumer = broker.NextConsumer();
  // A new group starts at the end of the stream; a durable group resumes.
  auto created = conn->Command({"XGROUP", "CREATE", sub->key, sub->group, "$", "MKSTREAM"});
  if (!created.ok() && created.error().message().find("BUSYGROUP") == std::string::npos)
    return created.error();
  sub->options = std::move(options);
  sub->handler = std::move(handler);
  conn->SetTimeout(broker.ReadTimeout());
  auto reader_id = conn->Command({"CLIENT", "ID"});
  std::shared_ptr<StreamSub> shared = sub;
  std::unique_ptr<Subscription> subscription(new StreamSubscription(std::move(sub), std::move(conn)));
  // Return once the reader waits at the server (or has read already), so a
  // queue-group member is in line before anything is published.
  const Deadline give_up = Clock::now() + 2s;
  {
    std::unique_lock lock(shared->mutex);
    shared->reading_cv.wait_until(lock, give_up, [&] { return shared->reading; });
  }
  while (reader_id.ok() && !shared->first_read_done && Clock::now() < give_up) {
    auto info = broker.Run({"CLIENT", "LIST", "ID", std::to_string((*reader_id)->integer)});
    if (!info.ok() || Str(info->get()).find(" flags=b") != std::string::npos) break;
    std::this_thread::sleep_for(1ms);
  }
  return subscription;
}

}  // namespace ferry::redis_internal
