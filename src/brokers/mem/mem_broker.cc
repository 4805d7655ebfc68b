#include "brokers/mem/mem_broker.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/inbox_request.h"
#include "core/spin_wait.h"
#include "core/thread_name.h"
#include "core/topic.h"

namespace ferry {
namespace {

class MemBroker;

// One subscription: a bounded queue and the thread that hands its
// deliveries to the handler, one at a time. A publisher may hand a delivery
// to the subscription's try_handler itself when nothing is queued or on its
// way, which saves the thread hand-off.
struct Sub {
  std::uint64_t id = 0;
  SubscribeOptions options;
  DeliveryHandler handler;
  std::uint32_t capacity = 0;

  std::mutex mutex;
  SpinCondition work;            // the delivery thread: something to deliver, or stopping
  std::condition_variable room;  // publishers: room in the queue, or stopping
  std::condition_variable idle;  // HandOver, Remove: no delivery on its way any more
  std::deque<Delivery> queue;
  std::uint32_t in_flight = 0;   // delivered, not yet settled
  std::uint32_t waiting_publishers = 0;
  bool delivering = false;       // a delivery is on its way to a handler
  // The publishing thread running try_handler while `delivering`, if any
  // (a subscription removed from inside that call must not wait for it).
  std::thread::id direct_caller;
  bool stopping = false;
  // Handed over (a reload): nothing is delivered, the queue still fills.
  // `adoptable` turns true once no handler call is running any more; from
  // then on a Subscribe with the same key may take the subscription up.
  bool parked = false;
  bool adoptable = false;
  std::thread thread;
  std::weak_ptr<Sub> self;  // handed to ackers, which may outlive the subscription

  bool Full() const { return queue.size() >= capacity; }
  bool InFlightRoom() const { return !options.manual_ack || in_flight < options.max_in_flight; }
};

// Redeliveries waiting for their delay to pass.
struct Pending {
  Clock::time_point due;
  std::weak_ptr<Sub> sub;
  std::shared_ptr<Delivery> delivery;
  bool operator>(const Pending& o) const { return due > o.due; }
};

class MemAcker final : public Acker {
 public:
  MemAcker(std::weak_ptr<Sub> sub, MemBroker& broker, Delivery copy)
      : sub_(std::move(sub)), broker_(broker), copy_(std::move(copy)) {}
  Status Ack() override { return Settle(false, {}); }
  Status Term() override { return Settle(false, {}); }
  Status Nack(std::chrono::milliseconds delay) override { return Settle(true, delay); }

 private:
  Status Settle(bool redeliver, std::chrono::milliseconds delay);

  std::weak_ptr<Sub> sub_;
  MemBroker& broker_;
  Delivery copy_;  // what a redelivery sends again (payload bytes are shared)
  std::atomic<bool> settled_{false};
};

class MemSubscription final : public Subscription {
 public:
  MemSubscription(MemBroker& broker, std::shared_ptr<Sub> sub) : broker_(broker), sub_(std::move(sub)) {}
  ~MemSubscription() override;
  bool HandOver() override;

 private:
  MemBroker& broker_;
  std::shared_ptr<Sub> sub_;
  bool handed_over_ = false;
};

class MemBroker final : public Broker {
 public:
  explicit MemBroker(MemOptions options) : options_(options) {
    timer_ = std::thread([this] { TimerLoop(); });
  }
  ~MemBroker() override {
    EndHandOvers();
    {
      std::lock_guard lock(timer_mutex_);
      timer_stop_ = true;
    }
    timer_cv_.notify_all();
    timer_.join();
  }

  std::string DisplayUrl() const override { return "mem://"; }
  BrokerCapabilities Capabilities() const override {
    return {.headers = true, .native_request_reply = true, .queue_groups = true,
            .redelivery = true, .durable = false};
  }

  Status Connect() override {
    SetState(ConnectionState::kConnected);
    return Status::Ok();
  }
  void Close() override { SetState(ConnectionState::kClosed); }
  ConnectionState State() const override { return state_.load(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    std::lock_guard lock(state_mutex_);
    on_state_ = std::move(callback);
  }

  Status Publish(const Message& message, Deadline deadline) override {
    if (state_.load() != ConnectionState::kConnected)
      return Error::Connection("the embedded broker is " +
                               std::string(ConnectionStateName(state_.load())));
    FERRY_RETURN_IF_ERROR(ValidateTopic(message.topic));
    std::vector<std::shared_ptr<Sub>> targets = Route(message.topic);
    for (const auto& sub : targets) {
      Delivery d;
      d.message = message;
      d.pattern = sub->options.pattern;
      if (DeliverDirectly(sub, d)) continue;
      FERRY_RETURN_IF_ERROR(Enqueue(sub, std::move(d), deadline));
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override {
    FERRY_RETURN_IF_ERROR(ValidatePattern(options.pattern));
    WarnUnknownExtensions("mem://", options.extensions, {});
    if (state_.load() == ConnectionState::kClosed)
      return Error::Connection("the embedded broker is closed");
    auto sub = std::make_shared<Sub>();
    sub->options = std::move(options);
    sub->handler = std::move(handler);
    sub->capacity = options_.queue_capacity;
    if (sub->options.max_in_flight == 0) sub->options.max_in_flight = 1;
    {
      std::unique_lock lock(subs_mutex_);
      if (auto parked = TakeUp(*sub)) return std::unique_ptr<Subscription>(new MemSubscription(*this, parked));
      sub->id = ++next_id_;
      subs_.push_back(sub);
    }
    sub->self = sub;
    // The thread holds the subscription alive until it returns, even when
    // it was detached by a handler that unsubscribed itself.
    sub->thread = std::thread([this, sub] { DeliveryLoop(*sub); });
    return std::unique_ptr<Subscription>(new MemSubscription(*this, sub));
  }

  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override {
    return RequestViaInbox(*this, message, options);
  }

  // Stops delivering to `sub` but keeps it routed: see Subscription::HandOver.
  bool Park(Sub& sub) {
    if (sub.options.hand_over_key.empty()) return false;
    {
      std::unique_lock lock(sub.mutex);
      if (sub.stopping) return false;
      sub.parked = true;
      sub.idle.wait(lock, [&] { return !sub.delivering; });
      // The handler belongs to the subscriber that handed over; it is not
      // called again. Its successor's replaces it.
      sub.handler = nullptr;
      sub.options.try_handler = nullptr;
    }
    std::unique_lock lock(subs_mutex_);
    std::lock_guard sub_lock(sub.mutex);
    sub.adoptable = true;
    return true;
  }

  void EndHandOvers() override {
    std::vector<std::shared_ptr<Sub>> left;
    {
      std::shared_lock lock(subs_mutex_);
      for (const auto& sub : subs_)
        if (sub->adoptable) left.push_back(sub);
    }
    for (const auto& sub : left) {
      std::size_t queued = 0;
      {
        std::lock_guard lock(sub->mutex);
        queued = sub->queue.size();
      }
      if (queued > 0)
        spdlog::warn("embedded broker: {} messages queued for {} on {} are dropped: nothing "
                     "subscribes to it after the reload",
                     queued, sub->options.hand_over_key, sub->options.pattern);
      Remove(sub);
    }
  }

  void Remove(const std::shared_ptr<Sub>& sub) {
    {
      std::unique_lock lock(subs_mutex_);
      std::erase(subs_, sub);
    }
    {
      std::unique_lock lock(sub->mutex);
      sub->stopping = true;
      sub->queue.clear();  // in memory only: undelivered messages go with it
      // A try_handler call running on a publisher's thread finishes before
      // the subscription is gone (unless this is that call unsubscribing).
      sub->idle.wait(lock, [&] {
        return !sub->delivering || sub->direct_caller == std::thread::id() ||
               sub->direct_caller == std::this_thread::get_id();
      });
    }
    sub->work.NotifyAll();
    sub->room.notify_all();
    if (sub->thread.get_id() == std::this_thread::get_id())
      sub->thread.detach();  // unsubscribing from inside its own handler
    else if (sub->thread.joinable())
      sub->thread.join();
  }

  // Puts a settled-for-redelivery delivery back after `delay`.
  void Redeliver(std::weak_ptr<Sub> sub, Delivery delivery, std::chrono::milliseconds delay) {
    {
      std::lock_guard lock(timer_mutex_);
      timers_.push({Clock::now() + delay, std::move(sub), std::make_shared<Delivery>(std::move(delivery))});
    }
    timer_cv_.notify_all();
  }

 private:
  // The subscriptions a topic goes to: every matching plain subscription and
  // one member of each matching queue group.
  std::vector<std::shared_ptr<Sub>> Route(const std::string& topic) {
    std::vector<std::shared_ptr<Sub>> out;
    std::vector<std::shared_ptr<Sub>> grouped;
    {
      std::shared_lock lock(subs_mutex_);
      for (const auto& sub : subs_) {
        if (!TopicMatches(sub->options.pattern, topic)) continue;
        (sub->options.queue_group.empty() ? out : grouped).push_back(sub);
      }
    }
    if (grouped.empty()) return out;
    std::map<std::pair<std::string, std::string>, std::vector<std::shared_ptr<Sub>>> groups;
    for (auto& sub : grouped)
      groups[{sub->options.queue_group, sub->options.pattern}].push_back(std::move(sub));
    for (auto& [key, members] : groups) {
      // Round-robin, preferring a member with room in its queue.
      const std::uint64_t start = round_robin_.fetch_add(1, std::memory_order_relaxed);
      std::shared_ptr<Sub> chosen = members[start % members.size()];
      for (std::size_t i = 0; i < members.size(); ++i) {
        auto& candidate = members[(start + i) % members.size()];
        std::lock_guard lock(candidate->mutex);
        if (!candidate->Full()) {
          chosen = candidate;
          break;
        }
      }
      out.push_back(std::move(chosen));
    }
    return out;
  }

  // Hands `d` to the subscription's try_handler on this thread when nothing
  // of the subscription is queued or being delivered (so order holds).
  // False: `d` is as it was, for the queue.
  bool DeliverDirectly(const std::shared_ptr<Sub>& sub, Delivery& d) {
    {
      std::lock_guard lock(sub->mutex);
      // try_handler is read under the lock: a hand-over replaces it.
      if (!sub->options.try_handler || sub->stopping || sub->parked || sub->delivering || !sub->queue.empty() ||
          !sub->InFlightRoom())
        return false;
      sub->delivering = true;
      sub->direct_caller = std::this_thread::get_id();
      if (sub->options.manual_ack) {
        ++sub->in_flight;
        d.acker = std::make_shared<MemAcker>(sub->self, *this, d);
      }
    }
    const bool taken = sub->options.try_handler(d);
    if (!taken) d.acker.reset();
    {
      std::lock_guard lock(sub->mutex);
      sub->delivering = false;
      sub->direct_caller = std::thread::id();
      if (!taken && sub->options.manual_ack) --sub->in_flight;
      if (!sub->queue.empty()) sub->work.NotifyOne();  // held back while this went
      if (sub->parked || sub->stopping) sub->idle.notify_all();
    }
    return taken;
  }

  Status Enqueue(const std::shared_ptr<Sub>& sub, Delivery delivery, Deadline deadline) {
    std::unique_lock lock(sub->mutex);
    if (sub->Full()) {
      ++sub->waiting_publishers;
      const bool room = sub->room.wait_until(lock, deadline, [&] { return sub->stopping || !sub->Full(); });
      --sub->waiting_publishers;
      if (!room)
        return Error::ResourceExhausted(
            fmt::format("subscribers of {} are not keeping up: queue of {} full until the deadline",
                        delivery.message.topic, sub->capacity));
    }
    if (sub->stopping) return Status::Ok();  // unsubscribed meanwhile: like never matched
    sub->queue.push_back(std::move(delivery));
    sub->work.NotifyOne();
    return Status::Ok();
  }

  void DeliveryLoop(Sub& sub) {
    NameThisThread("mem:" + sub.options.pattern);
    std::unique_lock lock(sub.mutex);
    while (true) {
      sub.work.Wait(lock, [&] {
        return sub.stopping ||
               (!sub.parked && !sub.queue.empty() && !sub.delivering && sub.InFlightRoom());
      });
      if (sub.stopping) return;
      Delivery d = std::move(sub.queue.front());
      sub.queue.pop_front();
      if (sub.options.manual_ack) {
        ++sub.in_flight;
        d.acker = std::make_shared<MemAcker>(sub.self, *this, d);
      }
      sub.delivering = true;
      // Publishers waiting for room are woken once half the queue is free,
      // not on every delivery: one wake-up per batch instead of per message.
      if (sub.waiting_publishers > 0 && sub.queue.size() <= sub.capacity / 2) sub.room.notify_all();
      lock.unlock();
      sub.handler(std::move(d));
      lock.lock();
      sub.delivering = false;
      if (sub.parked) sub.idle.notify_all();
    }
  }

  void TimerLoop() {
    std::unique_lock lock(timer_mutex_);
    while (!timer_stop_) {
      if (timers_.empty()) {
        timer_cv_.wait(lock);
        continue;
      }
      if (Clock::now() < timers_.top().due) {
        timer_cv_.wait_until(lock, timers_.top().due);
        continue;
      }
      Pending p = timers_.top();
      timers_.pop();
      lock.unlock();
      if (auto sub = p.sub.lock()) {
        std::lock_guard sub_lock(sub->mutex);
        // The slot the nack kept is given back now that the delivery is
        // queued again (it takes a slot anew when it goes out).
        if (sub->in_flight > 0) --sub->in_flight;
        if (!sub->stopping) {
          // Redeliveries skip the capacity check: they were accepted once,
          // and waiting here would stall every other timer.
          sub->queue.push_back(std::move(*p.delivery));
        }
        sub->work.NotifyOne();
      }
      lock.lock();
    }
  }

  // A subscription handed over with the key, pattern and queue group of
  // `wanted`, given `wanted`'s handler and limits; null if there is none.
  // Caller holds subs_mutex_ exclusively, so Route is not reading the
  // fields that stay as they were.
  std::shared_ptr<Sub> TakeUp(Sub& wanted) {
    if (wanted.options.hand_over_key.empty()) return nullptr;
    for (const auto& sub : subs_) {
      std::lock_guard lock(sub->mutex);
      if (!sub->adoptable || sub->options.hand_over_key != wanted.options.hand_over_key ||
          sub->options.pattern != wanted.options.pattern ||
          sub->options.queue_group != wanted.options.queue_group)
        continue;
      sub->handler = std::move(wanted.handler);
      sub->options.try_handler = std::move(wanted.options.try_handler);
      sub->options.max_in_flight = wanted.options.max_in_flight;
      sub->options.manual_ack = wanted.options.manual_ack;
      sub->options.extensions = std::move(wanted.options.extensions);
      sub->parked = false;
      sub->adoptable = false;
      sub->work.NotifyOne();
      return sub;
    }
    return nullptr;
  }

  void SetState(ConnectionState state) {
    state_.store(state);
    std::function<void(ConnectionState)> callback;
    {
      std::lock_guard lock(state_mutex_);
      callback = on_state_;
    }
    if (callback) callback(state);
  }

  const MemOptions options_;
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::mutex state_mutex_;
  std::function<void(ConnectionState)> on_state_;

  std::shared_mutex subs_mutex_;
  std::vector<std::shared_ptr<Sub>> subs_;
  std::uint64_t next_id_ = 0;
  std::atomic<std::uint64_t> round_robin_{0};

  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> timers_;
  bool timer_stop_ = false;
  std::thread timer_;
};

Status MemAcker::Settle(bool redeliver, std::chrono::milliseconds delay) {
  if (settled_.exchange(true)) return Error::FailedPrecondition("delivery already settled");
  auto sub = sub_.lock();
  if (!sub) return Status::Ok();  // unsubscribed: nothing to settle against
  // A delivery to be redelivered keeps its in-flight slot until the timer
  // queues it again: so a subscription holds at most max_in_flight
  // deliveries out or waiting for redelivery, and the timer's heap is
  // bounded by the sum of every subscription's limit.
  if (!redeliver) {
    std::lock_guard lock(sub->mutex);
    // Only a subscription at its in-flight limit has a delivery thread
    // waiting for this.
    const bool was_full = !sub->InFlightRoom();
    if (sub->in_flight > 0) --sub->in_flight;
    if (was_full) sub->work.NotifyOne();
  }
  if (redeliver) {
    Delivery again = copy_;
    again.acker.reset();
    ++again.attempt;
    broker_.Redeliver(sub_, std::move(again), delay);
  }
  return Status::Ok();
}

MemSubscription::~MemSubscription() {
  if (!handed_over_) broker_.Remove(sub_);
}

bool MemSubscription::HandOver() {
  if (handed_over_) return true;
  handed_over_ = broker_.Park(*sub_);
  return handed_over_;
}

}  // namespace

std::unique_ptr<Broker> MakeMemBroker(const MemOptions& options) {
  return std::make_unique<MemBroker>(options);
}

}  // namespace ferry
