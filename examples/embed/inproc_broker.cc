#include "inproc_broker.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace embed {
namespace {

std::vector<std::string> Tokens(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string t; std::getline(in, t, '.');) out.push_back(t);
  return out;
}

// '*' matches one token, '>' the rest (at least one).
bool Matches(const std::string& pattern, const std::string& topic) {
  const auto p = Tokens(pattern), t = Tokens(topic);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return t.size() > i;
    if (i >= t.size() || (p[i] != "*" && p[i] != t[i])) return false;
  }
  return p.size() == t.size();
}

class InprocBroker;

class InprocSubscription final : public ferry::Subscription {
 public:
  InprocSubscription(InprocBroker* broker, int id) : broker_(broker), id_(id) {}
  ~InprocSubscription() override;

 private:
  InprocBroker* broker_;
  int id_;
};

// At-most-once: deliveries carry no Acker, so a failed handling is retried
// by Ferry itself (Capabilities().redelivery is false).
class InprocBroker final : public ferry::Broker {
 public:
  ~InprocBroker() override { Close(); }

  std::string DisplayUrl() const override { return "inproc://"; }
  ferry::BrokerCapabilities Capabilities() const override {
    ferry::BrokerCapabilities caps;
    caps.native_request_reply = false;
    caps.queue_groups = false;
    caps.redelivery = false;
    return caps;
  }

  ferry::Status Connect() override {
    std::lock_guard lock(mutex_);
    if (state_ == ferry::ConnectionState::kConnected) return ferry::Status::Ok();
    state_ = ferry::ConnectionState::kConnected;
    closing_ = false;
    thread_ = std::thread([this] { DeliveryLoop(); });
    return ferry::Status::Ok();
  }

  void Close() override {
    {
      std::lock_guard lock(mutex_);
      if (state_ != ferry::ConnectionState::kConnected) return;
      state_ = ferry::ConnectionState::kClosed;
      closing_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  ferry::ConnectionState State() const override {
    std::lock_guard lock(mutex_);
    return state_;
  }
  void OnStateChange(std::function<void(ferry::ConnectionState)>) override {}

  ferry::Status Publish(const ferry::Message& message, ferry::Deadline) override {
    {
      std::lock_guard lock(mutex_);
      if (state_ != ferry::ConnectionState::kConnected)
        return ferry::Error::Connection("inproc broker is not connected");
      queue_.push_back(message);
    }
    wake_.notify_all();
    return ferry::Status::Ok();
  }

  ferry::Result<std::unique_ptr<ferry::Subscription>> Subscribe(
      ferry::SubscribeOptions options, ferry::DeliveryHandler handler) override {
    if (!options.queue_group.empty())
      return ferry::Error::Unsupported("inproc broker has no queue groups");
    std::lock_guard lock(mutex_);
    const int id = next_id_++;
    subs_.emplace(id, Sub{options.pattern, std::make_shared<ferry::DeliveryHandler>(std::move(handler))});
    return std::unique_ptr<ferry::Subscription>(new InprocSubscription(this, id));
  }

  ferry::Result<std::vector<ferry::Message>> Request(const ferry::Message&,
                                                     const ferry::RequestOptions&) override {
    return ferry::Error::Unsupported("inproc broker has no request-reply");
  }

  // Waits for a running delivery to return, so none starts afterwards.
  void Unsubscribe(int id) {
    std::unique_lock lock(mutex_);
    subs_.erase(id);
    idle_.wait(lock, [&] { return delivering_ != id; });
  }

 private:
  struct Sub {
    std::string pattern;
    std::shared_ptr<ferry::DeliveryHandler> handler;
  };

  // The delivery thread: one message at a time, to each matching subscriber.
  void DeliveryLoop() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (closing_) return;
      ferry::Message message = std::move(queue_.front());
      queue_.pop_front();
      std::vector<int> ids;
      for (const auto& [id, sub] : subs_)
        if (Matches(sub.pattern, message.topic)) ids.push_back(id);
      for (int id : ids) {
        auto it = subs_.find(id);
        if (it == subs_.end()) continue;  // unsubscribed meanwhile
        ferry::Delivery delivery;
        delivery.message = message;
        delivery.pattern = it->second.pattern;
        auto handler = it->second.handler;
        delivering_ = id;
        lock.unlock();
        (*handler)(std::move(delivery));  // may block: back-pressure
        lock.lock();
        delivering_ = -1;
        idle_.notify_all();
      }
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable wake_, idle_;
  ferry::ConnectionState state_ = ferry::ConnectionState::kDisconnected;
  bool closing_ = false;
  std::deque<ferry::Message> queue_;
  std::map<int, Sub> subs_;
  int next_id_ = 0;
  int delivering_ = -1;
  std::thread thread_;
};

InprocSubscription::~InprocSubscription() { broker_->Unsubscribe(id_); }

}  // namespace

ferry::Result<std::unique_ptr<ferry::ScopedBrokerScheme>> RegisterInprocBroker() {
  return ferry::ScopedBrokerScheme::Create(
      "inproc", [](std::string_view url, const std::map<std::string, std::string>& options)
                    -> ferry::Result<std::unique_ptr<ferry::Broker>> {
        if (!options.empty()) return ferry::Error::InvalidArgument("inproc:// takes no options");
        return std::unique_ptr<ferry::Broker>(new InprocBroker());
      });
}

}  // namespace embed
