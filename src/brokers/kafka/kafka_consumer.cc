#include "brokers/kafka/kafka_consumer.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/topic.h"

namespace ferry::kafka {
namespace {

using namespace std::chrono_literals;
using PKey = std::pair<std::string, std::int32_t>;  // topic, partition

// How often settled progress is committed while records flow.
constexpr auto kCommitEvery = 100ms;

struct PartitionState {
  std::uint64_t generation = 0;  // which assignment; ackers of an older one change nothing
  std::int64_t next = 0;         // the offset after the last record delivered
  std::int64_t committed = -1;
  std::set<std::int64_t> unsettled;  // delivered, or waiting for a retry, and not settled
  std::set<std::int64_t> retrying;   // of those, waiting in State::retries

  std::int64_t CommitPoint() const { return unsettled.empty() ? next : *unsettled.begin(); }
  bool InHand() const { return unsettled.size() > retrying.size(); }
};

struct Retry {
  Deadline at;
  PKey key;
  std::int64_t offset;
  std::uint64_t generation;
  Message message;
  std::uint32_t attempt;
};

// Shared by the subscription, its poll thread and the ackers it handed out
// (which may outlive it). `mutex` guards the bookkeeping; the handle and the
// backlog are used by the poll thread only (the rebalance callback runs on
// it too, inside rd_kafka_consumer_poll), and by the destructor after the
// thread ended.
struct State : std::enable_shared_from_this<State> {
  ConsumerEnv env;
  SubscribeOptions options;
  DeliveryHandler handler;
  std::string group;
  std::int64_t start_ms = 0;  // records from here on are this subscription's
  Handle rk;

  std::mutex mutex;
  std::condition_variable cv;  // settlements and the first assignment
  std::map<PKey, PartitionState> parts;
  std::vector<Retry> retries;
  std::uint64_t next_generation = 1;
  bool assigned = false;
  bool closing = false;  // destructor: rebalances wait for nothing
  std::atomic<bool> stop{false};
  std::atomic<bool> paused{false};

  std::deque<Record> backlog;  // fetched while delivery was paused
  bool fetch_paused = false;
  std::atomic<bool> at_limit{false};  // max_in_flight reached: settles wake the poll
  std::uint64_t paused_generation = 0;
  Deadline last_commit{};

  std::size_t InFlight() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& [key, p] : parts) n += p.unsettled.size();
    return n;
  }

  void Settle(const PKey& key, std::int64_t offset, std::uint64_t generation) {
    std::lock_guard lock(mutex);
    auto it = parts.find(key);
    if (it == parts.end() || it->second.generation != generation) return;  // released
    it->second.unsettled.erase(offset);
    cv.notify_all();
    // At max_in_flight the poll loop holds records back: wake it, so the
    // next one goes out now rather than after the poll's wait (pipelined
    // sends settle deliveries in bursts, milliseconds after the handler).
    // (`closing` is set, under this lock, before the handle goes.)
    if (at_limit.load(std::memory_order_relaxed) && !closing) rd_kafka_yield(rk.get());
  }

  void Hold(Retry retry) {
    std::lock_guard lock(mutex);
    auto it = parts.find(retry.key);
    if (it == parts.end() || it->second.generation != retry.generation) return;
    it->second.retrying.insert(retry.offset);
    retries.push_back(std::move(retry));
    cv.notify_all();
  }

  void Run();
  void Deliver(PKey key, std::int64_t offset, std::uint64_t generation, Message message,
               std::uint32_t attempt);
  void DeliverRecord(Record record);
  void DeliverDueRetries();
  void ApplyFlowControl(bool want_pause);
  void Commit(bool sync, const std::set<PKey>* only = nullptr);
  void Assign(rd_kafka_topic_partition_list_t* partitions);
  void Revoke(rd_kafka_topic_partition_list_t* partitions);
};

class KafkaAcker final : public Acker {
 public:
  KafkaAcker(std::shared_ptr<State> state, PKey key, std::int64_t offset, std::uint64_t generation,
             Message message, std::uint32_t attempt)
      : state_(std::move(state)), key_(std::move(key)), offset_(offset),
        generation_(generation), message_(std::move(message)), attempt_(attempt) {}

  Status Ack() override { return Finish(); }
  // The runtime has dead-lettered it: for Kafka that is settled.
  Status Term() override { return Finish(); }
  Status Nack(std::chrono::milliseconds delay) override {
    FERRY_RETURN_IF_ERROR(Claim());
    state_->Hold({Clock::now() + delay, key_, offset_, generation_, std::move(message_), attempt_ + 1});
    return Status::Ok();
  }

 private:
  Status Claim() {
    if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
    return Status::Ok();
  }
  Status Finish() {
    FERRY_RETURN_IF_ERROR(Claim());
    state_->Settle(key_, offset_, generation_);
    message_ = {};
    return Status::Ok();
  }

  std::shared_ptr<State> state_;
  PKey key_;
  std::int64_t offset_;
  std::uint64_t generation_;
  Message message_;
  std::uint32_t attempt_;
  std::atomic<bool> settled_{false};
};

void State::Deliver(PKey key, std::int64_t offset, std::uint64_t generation, Message message,
                    std::uint32_t attempt) {
  Delivery d;
  d.message = message;
  d.attempt = attempt;
  d.pattern = options.pattern;
  auto acker = std::make_shared<KafkaAcker>(shared_from_this(), std::move(key), offset, generation,
                                            std::move(message), attempt);
  if (options.manual_ack) d.acker = acker;
  handler(std::move(d));
  if (!options.manual_ack) (void)acker->Ack();
}

void State::DeliverRecord(Record record) {
  PKey key{rd_kafka_topic_name(record->rkt), record->partition};
  const std::int64_t offset = record->offset;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex);
    auto it = parts.find(key);
    if (it == parts.end() || offset < it->second.next) return;  // not ours (any more)
    it->second.next = offset + 1;
    it->second.unsettled.insert(offset);
    generation = it->second.generation;
  }
  Deliver(std::move(key), offset, generation, FromRecord(std::move(record)), 1);
}

void State::DeliverDueRetries() {
  std::vector<Retry> due;
  {
    std::lock_guard lock(mutex);
    const auto now = Clock::now();
    for (auto it = retries.begin(); it != retries.end();) {
      if (it->at > now) {
        ++it;
        continue;
      }
      auto part = parts.find(it->key);
      if (part != parts.end() && part->second.generation == it->generation) {
        part->second.retrying.erase(it->offset);
        due.push_back(std::move(*it));
      }
      it = retries.erase(it);
    }
  }
  for (Retry& r : due) Deliver(std::move(r.key), r.offset, r.generation, std::move(r.message), r.attempt);
}

void State::ApplyFlowControl(bool want_pause) {
  std::uint64_t generation;
  {
    std::lock_guard lock(mutex);
    generation = next_generation;
  }
  if (want_pause == fetch_paused && generation == paused_generation) return;
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  Partitions assignment(raw);
  if (want_pause) rd_kafka_pause_partitions(rk.get(), assignment.get());
  else rd_kafka_resume_partitions(rk.get(), assignment.get());
  fetch_paused = want_pause;
  paused_generation = generation;
}

// Commits, for each partition (or those in `only`), the offset before which
// everything is settled, when it moved.
void State::Commit(bool sync, const std::set<PKey>* only) {
  Partitions list(rd_kafka_topic_partition_list_new(4));
  {
    std::lock_guard lock(mutex);
    for (auto& [key, p] : parts) {
      if (only && !only->count(key)) continue;
      const std::int64_t point = p.CommitPoint();
      if (point < 0 || point <= p.committed) continue;
      rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset = point;
      p.committed = point;
    }
  }
  last_commit = Clock::now();
  if (list->cnt == 0) return;
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk.get(), list.get(), sync ? 0 : 1);
  // A commit that failed is made again by a later one, or the records are
  // delivered again: at least once either way.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    spdlog::debug("{}: committing offsets of group {}: {}", env.display, group, rd_kafka_err2str(err));
}

void State::Assign(rd_kafka_topic_partition_list_t* partitions) {
  Partitions list(rd_kafka_topic_partition_list_copy(partitions));
  const int timeout_ms = static_cast<int>(std::max(env.options.connect_timeout, 10000ms).count());
  rd_kafka_resp_err_t err = rd_kafka_committed(rk.get(), list.get(), timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    spdlog::warn("{}: reading group {}'s committed offsets: {}", env.display, group, rd_kafka_err2str(err));
  // Partitions the group never consumed start where this subscription began.
  Partitions fresh(rd_kafka_topic_partition_list_new(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset >= 0) continue;
    rd_kafka_topic_partition_list_add(fresh.get(), list->elems[i].topic, list->elems[i].partition)
        ->offset = start_ms;
  }
  if (fresh->cnt > 0) {
    err = rd_kafka_offsets_for_times(rk.get(), fresh.get(), timeout_ms);
    for (int i = 0; i < fresh->cnt; ++i) {
      rd_kafka_topic_partition_t& f = fresh->elems[i];
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR || f.err != RD_KAFKA_RESP_ERR_NO_ERROR || f.offset < 0) {
        // Nothing at or after the start: begin at the end as it is now.
        std::int64_t low = 0, high = RD_KAFKA_OFFSET_END;
        if (rd_kafka_query_watermark_offsets(rk.get(), f.topic, f.partition, &low, &high,
                                             timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
          high = RD_KAFKA_OFFSET_END;
        f.offset = high;
      }
      rd_kafka_topic_partition_list_find(list.get(), f.topic, f.partition)->offset = f.offset;
    }
    // Fix the start for the whole group, so a member that takes the
    // partition over later neither skips nor replays.
    Partitions known(rd_kafka_topic_partition_list_new(fresh->cnt));
    for (int i = 0; i < fresh->cnt; ++i)
      if (fresh->elems[i].offset >= 0)
        rd_kafka_topic_partition_list_add(known.get(), fresh->elems[i].topic, fresh->elems[i].partition)
            ->offset = fresh->elems[i].offset;
    if (known->cnt > 0) (void)rd_kafka_commit(rk.get(), known.get(), 0);
  }
  {
    std::lock_guard lock(mutex);
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      PartitionState& state = parts[{p.topic, p.partition}];
      state = {};
      state.generation = next_generation++;
      state.next = p.offset;  // negative (not known yet) until a record comes
      state.committed = p.offset;
    }
    assigned = true;
    cv.notify_all();
  }
  err = rd_kafka_assign(rk.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    spdlog::warn("{}: taking partitions of group {}: {}", env.display, group, rd_kafka_err2str(err));
  spdlog::debug("{}: group {} gave {} partition(s) for {}", env.display, group, list->cnt,
                options.pattern);
}

void State::Revoke(rd_kafka_topic_partition_list_t* partitions) {
  std::set<PKey> gone;
  for (int i = 0; i < partitions->cnt; ++i)
    gone.insert({partitions->elems[i].topic, partitions->elems[i].partition});
  {
    std::unique_lock lock(mutex);
    // Deliveries in hand are finished before the partitions go; waiting
    // retries are released (their records come again from the new owner).
    cv.wait_until(lock, Clock::now() + env.options.revoke_wait, [&] {
      if (closing) return true;
      for (const PKey& key : gone)
        if (auto it = parts.find(key); it != parts.end() && it->second.InHand()) return false;
      return true;
    });
  }
  Commit(/*sync=*/true, &gone);
  {
    std::lock_guard lock(mutex);
    for (const PKey& key : gone) parts.erase(key);
    std::erase_if(retries, [&](const Retry& r) { return gone.count(r.key) > 0; });
  }
  std::erase_if(backlog, [&](const Record& r) {
    return gone.count({rd_kafka_topic_name(r->rkt), r->partition}) > 0;
  });
  (void)rd_kafka_assign(rk.get(), nullptr);
}

void State::Run() {
  while (!stop.load()) {
    if (!paused.load()) DeliverDueRetries();
    // At max_in_flight, records fetched meanwhile wait in the backlog, and
    // fetching pauses only once the backlog holds another max_in_flight:
    // librdkafka resumes a paused partition only at its broker thread's
    // next wake-up (hundreds of milliseconds), too slow to pause whenever
    // the limit is touched, as it is all the time under pipelined sends.
    const bool full = InFlight() >= options.max_in_flight;
    at_limit.store(full, std::memory_order_relaxed);
    const bool want_pause = paused.load() || (full && backlog.size() >= options.max_in_flight);
    ApplyFlowControl(want_pause);
    while (!backlog.empty() && !paused.load() && InFlight() < options.max_in_flight) {
      Record r = std::move(backlog.front());
      backlog.pop_front();
      DeliverRecord(std::move(r));
    }
    if (Clock::now() - last_commit >= kCommitEvery) Commit(/*sync=*/false);
    auto wait = 100ms;
    {
      std::lock_guard lock(mutex);
      for (const Retry& r : retries)
        wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::max(r.at - Clock::now(), Clock::duration(1ms))));
    }
    Record record(rd_kafka_consumer_poll(rk.get(), static_cast<int>(wait.count())));
    if (!record) continue;
    if (record->err) {
      if (record->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        spdlog::debug("{}: consuming {}: {}", env.display, options.pattern,
                      rd_kafka_err2str(record->err));
      continue;
    }
    if (paused.load() || !backlog.empty() || InFlight() >= options.max_in_flight)
      backlog.push_back(std::move(record));
    else
      DeliverRecord(std::move(record));
  }
}

// Called by librdkafka inside rd_kafka_consumer_poll or consumer_close, on
// the thread calling those; `opaque` is the State.
void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* state = static_cast<State*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) state->Assign(partitions);
  else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) state->Revoke(partitions);
  else (void)rd_kafka_assign(rk, nullptr);
}

class KafkaSubscription final : public Subscription {
 public:
  explicit KafkaSubscription(std::shared_ptr<State> state) : state_(std::move(state)) {
    thread_ = std::thread([s = state_.get()] { s->Run(); });
  }
  ~KafkaSubscription() override {
    state_->stop = true;
    thread_.join();
    {
      std::lock_guard lock(state_->mutex);
      state_->closing = true;
    }
    // Commits what is settled (the revoke callback runs here) and leaves
    // the group; unsettled records go to the group's other members.
    (void)rd_kafka_consumer_close(state_->rk.get());
    state_->backlog.clear();  // records must go before their handle
    state_->rk.reset();
    std::lock_guard lock(state_->mutex);
    state_->parts.clear();
    state_->retries.clear();
  }
  void Pause() override { state_->paused = true; }

 private:
  std::shared_ptr<State> state_;
  std::thread thread_;
};

std::string RandomGroup() {
  std::random_device rd;
  return fmt::format("ferry-{:08x}{:08x}", rd(), rd());
}

// Asks for `topic` until the cluster lists it with partitions (the server
// creates it if it auto-creates topics). False when it never appears.
bool AwaitTopic(rd_kafka_t* rk, const std::string& topic, Deadline until) {
  while (Clock::now() < until) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* raw = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &raw, 2000);
    rd_kafka_topic_destroy(rkt);
    MetadataPtr md(raw);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// Whether any topic the cluster has now matches the wildcard `pattern`.
bool AnyTopicMatches(rd_kafka_t* rk, const std::string& pattern) {
  const rd_kafka_metadata_t* raw = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &raw, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return true;
  MetadataPtr md(raw);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const std::string_view name = md->topics[i].topic;
    if (ValidateTopic(name).ok() && TopicMatches(pattern, name)) return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<Subscription>> MakeKafkaSubscription(const ConsumerEnv& env,
                                                            SubscribeOptions options,
                                                            DeliveryHandler handler) {
  auto subscription = ToSubscription(options.pattern);
  if (!subscription.ok()) return subscription.error();
  auto state = std::make_shared<State>();
  state->env = env;
  state->start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  if (!options.queue_group.empty()) state->group = options.queue_group;
  else if (auto it = options.extensions.find("group"); it != options.extensions.end())
    state->group = it->second;
  else state->group = RandomGroup();

  auto conf = BaseConf(env.options);
  if (!conf.ok()) return conf.error();
  rd_kafka_conf_t* c = conf->get();
  const auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()); };
  FERRY_RETURN_IF_ERROR(Set(c, "group.id", state->group));
  FERRY_RETURN_IF_ERROR(Set(c, "enable.auto.commit", "false"));
  FERRY_RETURN_IF_ERROR(Set(c, "enable.auto.offset.store", "false"));
  FERRY_RETURN_IF_ERROR(Set(c, "auto.offset.reset", "latest"));
  FERRY_RETURN_IF_ERROR(Set(c, "allow.auto.create.topics", "true"));
  FERRY_RETURN_IF_ERROR(Set(c, "session.timeout.ms", ms(env.options.session_timeout)));
  FERRY_RETURN_IF_ERROR(Set(c, "heartbeat.interval.ms",
                            ms(std::max(env.options.session_timeout / 10, 100ms))));
  FERRY_RETURN_IF_ERROR(Set(c, "topic.metadata.refresh.interval.ms", ms(env.options.metadata_refresh)));
  FERRY_RETURN_IF_ERROR(Set(c, "fetch.wait.max.ms", "100"));
  for (const auto& [name, value] : env.options.rdkafka) FERRY_RETURN_IF_ERROR(Set(c, name, value));
  rd_kafka_conf_set_rebalance_cb(c, OnRebalance);
  rd_kafka_conf_set_opaque(c, state.get());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  if (!rk) return Error::Internal(fmt::format("{}: creating a consumer: {}", env.display, err));
  (void)conf->release();  // rd_kafka_new owns it now
  state->rk.reset(rk);
  rd_kafka_poll_set_consumer(rk);

  const Deadline until = Clock::now() + std::max(env.options.connect_timeout, 10000ms);
  // Waiting for the first assignment matters only where there is
  // something to assign: records published later are found by their
  // timestamp whenever the partitions come (see Assign).
  bool await_assignment = true;
  if (options.pattern.find_first_of("*>") == std::string::npos) {
    if (!AwaitTopic(rk, *subscription, until)) {
      spdlog::warn("{}: topic {} does not exist (yet); the subscription starts once it is created",
                   env.display, *subscription);
      await_assignment = false;
    }
  } else {
    await_assignment = AnyTopicMatches(rk, options.pattern);
  }
  Partitions topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), subscription->c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return KafkaError(fmt::format("{}: subscribing to {}", env.display, options.pattern), e);

  state->options = std::move(options);
  state->handler = std::move(handler);
  auto sub = std::make_unique<KafkaSubscription>(state);
  std::unique_lock lock(state->mutex);
  if (await_assignment && !state->cv.wait_until(lock, until, [&] { return state->assigned; }))
    spdlog::warn("{}: group {} has not assigned partitions of {} yet; it keeps trying",
                 env.display, state->group, state->options.pattern);
  lock.unlock();
  return std::unique_ptr<Subscription>(std::move(sub));
}

}  // namespace ferry::kafka
