// One rabbitmq-c connection and the I/O thread that alone uses it. The
// RabbitMQ adapter holds two: one publishes (channel 1, in confirm mode) and
// receives direct replies, one carries the subscriptions (a channel each).
//
// Threading: rabbitmq-c connections are not thread-safe, so nothing but the
// I/O thread touches the connection. Other threads hand it work with Post
// (fire and forget: acks) or Call (waits for the result: declaring a
// subscription), and Publish waits for the publisher confirm; an eventfd
// wakes the thread out of its poll. The callbacks (on_open, on_lost,
// on_delivery, on_channel_closed) and every posted function run on the I/O
// thread and must not block on other threads; functions marked "I/O thread"
// may only be called from there.
#pragma once

#include <amqp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "brokers/broker.h"
#include "brokers/publish_window.h"
#include "brokers/rabbitmq/rabbitmq_broker.h"

namespace ferry::amqp {

// The one place rabbitmq-c status codes and RPC replies become Ferry errors.
Error StatusError(int status, std::string_view context);
Error RpcError(const amqp_rpc_reply_t& reply, std::string_view context);

struct ConnectionDeleter {
  void operator()(amqp_connection_state_t c) const { amqp_destroy_connection(c); }
};
using ConnectionPtr =
    std::unique_ptr<std::remove_pointer_t<amqp_connection_state_t>, ConnectionDeleter>;

// A received message (amqp_consume_message's envelope); frees its buffers.
class Envelope {
 public:
  Envelope() = default;
  ~Envelope() { amqp_destroy_envelope(&e_); }
  Envelope(const Envelope&) = delete;
  Envelope& operator=(const Envelope&) = delete;
  amqp_envelope_t* get() { return &e_; }
  const amqp_envelope_t& operator*() const { return e_; }

 private:
  amqp_envelope_t e_{};
};

// A file descriptor that wakes the I/O thread (eventfd).
class WakeFd {
 public:
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  int fd() const { return fd_; }
  void Wake();
  void Drain();

 private:
  int fd_ = -1;
};

// Text of an AMQP short string or byte field.
inline std::string Str(amqp_bytes_t b) {
  return b.len ? std::string(static_cast<const char*>(b.bytes), b.len) : std::string();
}
inline amqp_bytes_t AmqpBytes(std::string_view s) {
  return {s.size(), const_cast<char*>(s.data())};
}

inline constexpr amqp_channel_t kPublishChannel = 1;

class Link {
 public:
  struct Callbacks {
    // After every successful (re)connect, before anything else runs: open
    // channels, declare and consume. An error drops the connection and
    // retries later. I/O thread.
    std::function<Status(Link&, bool first)> on_open;
    // The connection broke (not after Close). I/O thread.
    std::function<void(const Error&)> on_lost;
    // A basic.deliver, with its content. Must not block. I/O thread.
    std::function<void(const amqp_envelope_t&)> on_delivery;
    // The server closed a channel (after close-ok was sent). I/O thread.
    std::function<void(Link&, amqp_channel_t, const Error&)> on_channel_closed;
  };

  // `options` must outlive the link. `display` is the URL without secrets.
  Link(const RabbitMqOptions& options, std::string display, std::string name, Callbacks callbacks);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Connects (and runs on_open) on the calling thread, then starts the I/O
  // thread, which reconnects with backoff whenever the connection breaks.
  Status Open();
  // Stops the I/O thread and closes the connection. Idempotent.
  void Close();
  bool connected() const { return connected_.load(); }

  // Runs `fn` on the I/O thread (in order); after Close, at once on the
  // calling thread, where it finds no connection. Any thread.
  void Post(std::function<void()> fn);
  // Runs `fn` on the I/O thread and waits for its result until `deadline`.
  // Any thread but the I/O thread.
  Status Call(std::function<Status()> fn, Deadline deadline);

  // Publishes on channel 1 and waits for the server's confirm until
  // `deadline`. `fill` sets the properties on the I/O thread (headers
  // pointing into storage it captured). Any thread but the I/O thread.
  using FillProperties = std::function<void(amqp_basic_properties_t&)>;
  Status Publish(std::string exchange, std::string routing_key, Bytes body, FillProperties fill,
                 Deadline deadline);

  // The same without waiting for the confirm (Broker::PublishAsync): takes
  // a place in the window of max_unconfirmed (waiting up to `deadline`),
  // and `done` runs on the I/O thread once the server's basic.ack (or
  // nack, an error) covers the message's delivery tag, a `multiple` ack
  // covering every earlier one too; or when the connection breaks first.
  Status PublishAsync(std::string exchange, std::string routing_key, Bytes body,
                      FillProperties fill, Deadline deadline, PublishCompletion done);

  // I/O thread only.
  amqp_connection_state_t conn() { return conn_.get(); }
  // The result of the synchronous call just made on `channel` (its reply or
  // the server's close of the channel, which this acknowledges).
  Status CheckRpc(amqp_channel_t channel, std::string_view context);
  Result<amqp_channel_t> OpenChannel();
  // Closes a channel this side still has open (not one the server closed).
  void CloseChannel(amqp_channel_t channel);
  // Opens channel 1 again after the server closed it.
  Status ReopenPublishChannel();
  // Puts channel 1 in confirm mode (on_open of a publishing link).
  Status StartConfirms();
  // A connection-level failure seen by a posted function: reconnect.
  void Broke(const Error& why);

  // Publishes taken into the window and not yet confirmed.
  std::uint32_t unconfirmed() const { return window_.used(); }

 private:
  struct Confirm {
    bool done = false;
    std::optional<Error> error;
    PublishCompletion completion;  // PublishAsync's: nobody waits on `done`
  };
  // Publishes on the I/O thread; the outcome goes to `confirm`.
  void Enqueue(std::string exchange, std::string routing_key, Bytes body, FillProperties fill,
               std::shared_ptr<Confirm> confirm);
  // Marks `confirm` done (holding mutex_); an async one is returned to be
  // completed once the lock is let go.
  std::shared_ptr<Confirm> Finish(const std::shared_ptr<Confirm>& confirm, std::optional<Error> error);
  void Complete(std::vector<std::shared_ptr<Confirm>>& done);

  Status Connect(bool first);  // I/O thread (or the caller of Open, before the thread exists)
  void Run();
  bool ServeOnce();  // false once the connection broke
  bool HandleFrame(const amqp_frame_t& frame);
  void FailConfirms(const Error& why);
  void Settle(std::uint64_t tag, bool multiple, bool ok);

  const RabbitMqOptions& options_;
  const std::string display_;
  const std::string name_;
  Callbacks callbacks_;
  WakeFd wake_;

  // I/O thread only (and Open before the thread starts).
  ConnectionPtr conn_;
  std::optional<Error> broken_;
  std::vector<amqp_channel_t> free_channels_;
  std::set<amqp_channel_t> open_channels_;
  amqp_channel_t next_channel_ = 2;
  std::uint64_t next_tag_ = 0;  // last delivery tag of channel 1's publishes

  std::atomic<bool> connected_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;

  std::mutex mutex_;  // guards what follows
  std::condition_variable cv_;
  std::deque<std::function<void()>> commands_;
  bool closed_ = false;  // after Close: Post runs functions at once
  std::map<std::uint64_t, std::shared_ptr<Confirm>> confirms_;  // by delivery tag
  PublishWindow window_;  // of PublishAsync's confirms
};

}  // namespace ferry::amqp
