#include "support/faulty_broker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "brokers/publish_window.h"

namespace ferry::testing {
namespace {

void Delay(const Faults& faults) {
  if (auto ms = faults.delay_ms.load(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The delay, cut at `deadline`: false if the delay would have taken longer.
bool DelayUntil(const Faults& faults, Deadline deadline) {
  const auto ms = faults.delay_ms.load();
  if (ms <= 0) return true;
  const Deadline done = Clock::now() + std::chrono::milliseconds(ms);
  std::this_thread::sleep_until(std::min(done, deadline));
  return done <= deadline;
}

// Refuses what the faults say, before the inner acker sees it, so the
// delivery stays unsettled as after a real refused ack (a refused ack then
// has the inner broker redeliver: see Faults::fail_ack).
class FaultyAcker final : public Acker {
 public:
  FaultyAcker(std::shared_ptr<Acker> inner, std::shared_ptr<Faults> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {
    const auto now = faults_->unsettled.fetch_add(1) + 1;
    auto peak = faults_->peak_unsettled.load();
    while (now > peak && !faults_->peak_unsettled.compare_exchange_weak(peak, now)) {
    }
  }
  ~FaultyAcker() override { Settled(); }
  Status Ack() override {
    return Settle(faults_->fail_ack, "ack",
                  [&] {
                    faults_->acks.fetch_add(1);
                    if (faults_->unconfirmed.load() > 0) faults_->acks_while_unconfirmed.fetch_add(1);
                    return inner_->Ack();
                  },
                  [&] { (void)inner_->Nack(std::chrono::milliseconds(0)); });
  }
  Status Nack(std::chrono::milliseconds delay) override {
    return Settle(faults_->fail_nack, "nack", [&] { return inner_->Nack(delay); }, [] {});
  }
  Status Term() override {
    return Settle(faults_->fail_term, "term", [&] { return inner_->Term(); }, [] {});
  }
  bool Redelivers() const override { return inner_->Redelivers(); }

 private:
  template <typename Fn, typename Refused>
  Status Settle(const std::atomic<bool>& fail, const char* what, Fn&& fn, Refused&& refused) {
    Delay(*faults_);
    Settled();
    if (fail.load()) {
      faults_->refused_settles.fetch_add(1);
      refused();
      return Error::Connection(std::string("injected fault: ") + what + " refused");
    }
    return fn();
  }
  void Settled() {
    if (!counted_.exchange(true)) faults_->unsettled.fetch_sub(1);
  }
  std::shared_ptr<Acker> inner_;
  std::shared_ptr<Faults> faults_;
  std::atomic<bool> counted_{false};
};

// Confirmations delayed by Faults::confirm_delay_ms, reported in order on
// a thread of their own. Shared with the completions, which may outlive
// the broker.
class Confirmer {
 public:
  Confirmer() : thread_([this] { Loop(); }) {}
  ~Confirmer() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      OpenGate();  // nothing stays held
    }
    cv_.notify_all();
    thread_.join();
  }
  void Later(Deadline due, std::function<void()> report) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({due, std::move(report)});
    }
    cv_.notify_all();
  }
  // Holds `report` while Faults::confirm_once_unconfirmed is set and fewer
  // than that many publishes are unconfirmed, else reports it as Later
  // would. Decided under the lock, so no report is held after the gate
  // opened.
  void Gated(Faults& faults, std::function<void()> report) {
    {
      std::lock_guard lock(mutex_);
      const auto open_at = faults.confirm_once_unconfirmed.load();
      if (open_at > 0) {
        held_.push_back(std::move(report));
        if (faults.unconfirmed.load() < open_at) return;
        faults.confirm_once_unconfirmed = 0;
        OpenGate();
      } else {  // opened meanwhile
        const auto delay = std::chrono::milliseconds(faults.confirm_delay_ms.load());
        queue_.push_back({Clock::now() + delay, std::move(report)});
      }
    }
    cv_.notify_all();
  }

 private:
  // Under the lock: what the gate held is reported now, in order.
  void OpenGate() {
    for (auto& report : held_) queue_.push_back({Clock::now(), std::move(report)});
    held_.clear();
  }
  void Loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      if (Clock::now() < queue_.front().first && !stop_) {
        cv_.wait_until(lock, queue_.front().first);
        continue;
      }
      auto report = std::move(queue_.front().second);
      queue_.pop_front();
      lock.unlock();
      report();
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<Deadline, std::function<void()>>> queue_;
  std::vector<std::function<void()>> held_;
  bool stop_ = false;
  std::thread thread_;
};

class FaultyBroker final : public Broker {
 public:
  FaultyBroker(std::unique_ptr<Broker> inner, std::shared_ptr<Faults> faults)
      : inner_(std::move(inner)),
        faults_(std::move(faults)),
        window_(std::make_shared<PublishWindow>(faults_->max_unconfirmed)) {}
  ~FaultyBroker() override { confirmer_.reset(); }  // reports what is left first

  std::string DisplayUrl() const override { return "faulty+" + inner_->DisplayUrl(); }
  BrokerCapabilities Capabilities() const override { return inner_->Capabilities(); }
  Status Connect() override { return inner_->Connect(); }
  void Close() override { inner_->Close(); }
  ConnectionState State() const override { return inner_->State(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    inner_->OnStateChange(std::move(callback));
  }
  void EndHandOvers() override { inner_->EndHandOvers(); }

  Status Publish(const Message& message, Deadline deadline) override {
    FERRY_RETURN_IF_ERROR(Count(deadline));
    return inner_->Publish(message, deadline);
  }

  // Takes a place in the wrapper's window, hands the message to the inner
  // broker's PublishAsync, and reports its confirmation as the faults say.
  Status PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) override {
    FERRY_RETURN_IF_ERROR(window_->Acquire(deadline, "faulty: publish to " + message.topic));
    Status counted = Count(deadline);
    if (!counted.ok()) {
      window_->Release();
      return counted;
    }
    const std::uint64_t n = faults_->publishes.load();
    const auto now = faults_->unconfirmed.fetch_add(1) + 1;
    auto peak = faults_->peak_unconfirmed.load();
    while (now > peak && !faults_->peak_unconfirmed.compare_exchange_weak(peak, now)) {
    }
    auto report = [faults = faults_, window = window_, confirmer = confirmer_, n,
                   done = std::move(done)](Status outcome) mutable {
      if (n == faults->fail_confirm_at.load())
        outcome = Error::Connection("injected fault: publish " + std::to_string(n) +
                                    " was never confirmed");
      auto finish = [faults, window, outcome, done = std::move(done)]() mutable {
        faults->confirmed.fetch_add(1);
        faults->unconfirmed.fetch_sub(1);
        done(std::move(outcome));
        window->Release();
      };
      const auto delay = faults->confirm_delay_ms.load();
      if (faults->confirm_once_unconfirmed.load() > 0)
        confirmer->Gated(*faults, std::move(finish));
      else if (delay > 0)
        confirmer->Later(Clock::now() + std::chrono::milliseconds(delay), std::move(finish));
      else finish();
    };
    Status sent = inner_->PublishAsync(message, deadline, std::move(report));
    if (!sent.ok()) {
      faults_->unconfirmed.fetch_sub(1);
      window_->Release();
    }
    return sent;
  }

  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override {
    Delay(*faults_);
    auto wrap = [faults = faults_](Delivery& d) {
      if (d.acker) d.acker = std::make_shared<FaultyAcker>(std::move(d.acker), faults);
    };
    if (options.try_handler) {
      options.try_handler = [wrap, inner = std::move(options.try_handler)](Delivery& d) {
        // The inner broker keeps the delivery when refused: give its acker back.
        auto original = d.acker;
        wrap(d);
        if (inner(d)) return true;
        d.acker = std::move(original);
        return false;
      };
    }
    return inner_->Subscribe(std::move(options), [wrap, handler = std::move(handler)](Delivery d) {
      wrap(d);
      handler(std::move(d));
    });
  }

  // Through a private inbox on the inner broker, so that a dropped
  // connection can end the wait at once.
  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override {
    const Deadline deadline = Clock::now() + options.timeout;
    FERRY_RETURN_IF_ERROR(Count(deadline));
    auto replies = std::make_shared<std::vector<Message>>();
    auto faults = faults_;
    SubscribeOptions inbox;
    inbox.pattern = "_INBOX.faulty." + std::to_string(next_inbox_.fetch_add(1));
    inbox.manual_ack = false;
    auto sub = inner_->Subscribe(inbox, [faults, replies](Delivery d) {
      std::lock_guard lock(faults->mutex);
      replies->push_back(std::move(d.message));
      faults->cv.notify_all();
    });
    if (!sub.ok()) return sub.error();
    Message request = message;
    request.reply_to = inbox.pattern;
    std::unique_lock lock(faults_->mutex);
    const std::uint64_t drops = faults_->drops;
    lock.unlock();
    FERRY_RETURN_IF_ERROR(inner_->Publish(request, deadline));
    lock.lock();
    faults_->requests_waiting.fetch_add(1);
    faults_->cv.wait_until(lock, deadline, [&] {
      return replies->size() >= options.expected_replies || faults_->drops != drops;
    });
    faults_->requests_waiting.fetch_sub(1);
    if (faults_->drops != drops)
      return Error::Connection("injected fault: the connection dropped while waiting for replies on " +
                               message.topic);
    if (replies->empty()) return Error::Timeout("no reply on " + message.topic);
    std::vector<Message> out = std::move(*replies);
    replies->clear();
    if (out.size() > options.expected_replies) out.resize(options.expected_replies);
    return out;
  }

 private:
  Status Count(Deadline deadline) {
    if (!DelayUntil(*faults_, deadline))
      return Error::ResourceExhausted("injected fault: the broker was slower than the deadline");
    const std::uint64_t n = faults_->publishes.fetch_add(1) + 1;
    if (n == faults_->fail_publish_at.load())
      return Error::Connection("injected fault: publish " + std::to_string(n) + " fails");
    return Status::Ok();
  }

  std::unique_ptr<Broker> inner_;
  std::shared_ptr<Faults> faults_;
  std::shared_ptr<PublishWindow> window_;
  std::shared_ptr<Confirmer> confirmer_ = std::make_shared<Confirmer>();
  std::atomic<std::uint64_t> next_inbox_{0};
};

}  // namespace

void Faults::DropConnection() {
  {
    std::lock_guard lock(mutex);
    ++drops;
  }
  cv.notify_all();
}

std::unique_ptr<Broker> MakeFaultyBroker(std::unique_ptr<Broker> inner,
                                         std::shared_ptr<Faults> faults) {
  return std::make_unique<FaultyBroker>(std::move(inner), std::move(faults));
}

Result<std::unique_ptr<ScopedBrokerScheme>> RegisterFaultyScheme(std::shared_ptr<Faults> faults,
                                                                 std::string inner_url) {
  return ScopedBrokerScheme::Create(
      "faulty",
      [faults, inner_url](std::string_view, const std::map<std::string, std::string>& options)
          -> Result<std::unique_ptr<Broker>> {
        auto inner = MakeBroker(inner_url, options);
        if (!inner.ok()) return inner.error();
        return MakeFaultyBroker(std::move(inner).value(), faults);
      });
}

void ExpectOneAckAfterAllConfirmed(const Faults& faults, std::uint64_t sends) {
  EXPECT_EQ(faults.acks.load(), 1u);
  EXPECT_EQ(faults.acks_while_unconfirmed.load(), 0u);
  EXPECT_EQ(faults.confirmed.load(), sends);
  EXPECT_GT(faults.peak_unconfirmed.load(), 1);
}

}  // namespace ferry::testing
