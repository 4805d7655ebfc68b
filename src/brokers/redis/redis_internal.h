// The Redis adapter's insides, shared by its two files: redis_broker.cc
// (the broker, publishing, pub/sub subscriptions) and redis_streams.cc
// (streams subscriptions). Not for use outside src/brokers/redis/.
#pragma once

#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/inbox_request.h"
#include "brokers/redis/redis_broker.h"
#include "brokers/redis/redis_pipeline.h"
#include "core/topic.h"

namespace ferry::redis_internal {

using namespace std::chrono_literals;
using redis::Connection;
using redis::Reply;

inline bool IsInbox(std::string_view topic) { return topic.starts_with("_INBOX."); }

// How long one XREADGROUP waits for new entries: also how late a streams
// reader notices a due retry or its own unsubscribe.
constexpr std::chrono::milliseconds kBlock{200};

inline std::string Str(const redisReply* r) {
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
    if (options_.publish_streams) {
      std::lock_guard pipeline_lock(pipeline_mutex_);
      pipeline_ = std::make_shared<redis::Pipeline>(options_.endpoint, display_,
                                                    options_.command_timeout,
                                                    options_.max_unconfirmed);
    }
    SetState(ConnectionState::kConnected);
    return Status::Ok();
  }

  void Close() override {
    std::shared_ptr<redis::Pipeline> pipeline;
    {
      std::lock_guard lock(pipeline_mutex_);
      pipeline.swap(pipeline_);
    }
    pipeline.reset();  // joins its thread; what it still held fails
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
      auto r = Run(Xadd(message));
      return r.ok() ? Status::Ok() : Status(r.error());
    }
    auto r = Run({"PUBLISH", message.topic, redis::Encode(message)});
    return r.ok() ? Status::Ok() : Status(r.error());
  }

  // Streams: pipelined XADDs on a connection of their own (redis::Pipeline),
  // done at each one's reply. Pub/sub is done once published.
  std::uint64_t UnconfirmedPublishes() const override {
    std::lock_guard lock(pipeline_mutex_);
    return pipeline_ ? pipeline_->unconfirmed() : 0;
  }

  Status PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) override {
    if (!options_.publish_streams || IsInbox(message.topic))
      return Broker::PublishAsync(message, deadline, std::move(done));
    FERRY_RETURN_IF_ERROR(ValidateTopic(message.topic));
    std::shared_ptr<redis::Pipeline> pipeline;
    {
      std::lock_guard lock(pipeline_mutex_);
      pipeline = pipeline_;
    }
    if (!pipeline) return Error::Connection(display_ + " is closed");
    return pipeline->Submit(Xadd(message), deadline, std::move(done));
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
  // A consumer name no other reader of any process uses.
  std::string NextConsumer() { return consumer_prefix_ + "-" + std::to_string(consumer_counter_.fetch_add(1)); }

 private:
  std::vector<std::string> Xadd(const Message& message) const {
    std::vector<std::string> cmd{"XADD", message.topic};
    if (options_.max_len > 0) cmd.insert(cmd.end(), {"MAXLEN", "~", std::to_string(options_.max_len)});
    cmd.push_back("*");
    for (std::string& f : redis::StreamFields(message)) cmd.push_back(std::move(f));
    return cmd;
  }

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
  mutable std::mutex pipeline_mutex_;
  std::shared_ptr<redis::Pipeline> pipeline_;  // streams only; from Connect to Close
};

// Starts a streams subscription for `broker` reading on `conn` (a fresh
// connection of its own); returns once its reader waits at the server.
Result<std::unique_ptr<Subscription>> SubscribeStreams(RedisBroker& broker,
                                                       std::unique_ptr<redis::Connection> conn,
                                                       SubscribeOptions options, DeliveryHandler handler);

}  // namespace ferry::redis_internal
