// The interface every broker adapter implements (mem, nats, mqtt, redis,
// kafka, amqp). Ferry's runtime sees brokers only through this header, and
// an embedding program can implement it too: register a factory for a URL
// scheme of its own (ScopedBrokerScheme, at the end) and name a URL of that
// scheme in the configuration.
//
// Threading: every method may be called from any thread. Delivery handlers
// run on a thread the adapter owns (cnats, libmosquitto and the embedded
// broker each have their own), one call at a time per subscription.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

enum class ConnectionState { kDisconnected, kConnecting, kConnected, kReconnecting, kClosed };
std::string_view ConnectionStateName(ConnectionState state);

// Settles one delivery. The first call wins; later calls return
// FailedPrecondition and change nothing. Thread-safe; never blocks for long.
class Acker {
 public:
  virtual ~Acker() = default;
  // Handled: the broker never delivers it again.
  virtual Status Ack() = 0;
  // Not handled: deliver it again, no sooner than `delay` from now.
  virtual Status Nack(std::chrono::milliseconds delay) = 0;
  // Give up: never deliver again (the runtime has dead-lettered it).
  virtual Status Term() = 0;
  // Whether a Nack leads to another delivery. False for deliveries of an
  // at-most-once subscription (core NATS, Redis pub/sub), even on a broker
  // whose other subscriptions redeliver: the runtime then keeps the message
  // and tries again itself.
  virtual bool Redelivers() const { return true; }
};

// One message handed to a subscriber.
struct Delivery {
  Message message;
  std::uint32_t attempt = 1;      // 1 on first delivery, +1 on each redelivery
  std::string pattern;            // the subscription pattern that matched
  std::shared_ptr<Acker> acker;   // null on at-most-once subscriptions
};

// Called on the adapter's delivery thread for each delivery, one at a time
// per subscription. It may block: a handler that blocks is how back-pressure
// reaches the broker (the adapter stops pulling, publishers wait).
// It must not throw.
using DeliveryHandler = std::function<void(Delivery)>;

// Told the outcome of one PublishAsync: Ok once the broker confirmed it.
using PublishCompletion = std::function<void(Status)>;

// How many publishes a connection keeps unconfirmed at once unless its
// `max_unconfirmed` setting says otherwise.
inline constexpr std::uint32_t kDefaultMaxUnconfirmed = 1024;

struct SubscribeOptions {
  std::string pattern;            // '.'-separated; '*' one token, '>' the rest
  std::string queue_group;        // empty: every subscriber gets every message
  bool manual_ack = true;         // deliveries carry an Acker to settle
  std::uint32_t max_in_flight = 256;  // unsettled deliveries before the adapter pauses
  // Adapter-specific settings (stream, durable name, qos, ...). Adapters
  // ignore keys they do not know after warning once.
  std::map<std::string, std::string> extensions;
  // Optional: takes a delivery without waiting, or returns false and
  // leaves it untouched. An adapter may call it on the publishing thread
  // (the embedded broker does, when nothing of the subscription is queued
  // or being delivered) to save a thread hand-off; what it refuses goes
  // through `handler` as usual. It must not block.
  std::function<bool(Delivery&)> try_handler;
  // Optional: names the subscriber (the runtime passes the component's
  // name) so that a subscription handed over (Subscription::HandOver) is
  // taken up by the next Subscribe with the same key, pattern and queue
  // group. Adapters that cannot hand over ignore it.
  std::string hand_over_key;
};

struct RequestOptions {
  // How long to wait for replies. Adapters require a value: the runtime
  // bounds "wait forever" by its own invocation limit.
  std::chrono::milliseconds timeout{5000};
  std::uint32_t expected_replies = 1;  // return as soon as this many arrived
  // Requested when the caller no longer wants the replies (its component is
  // stopping): stop waiting and return what arrived, or Error::Cancelled
  // when nothing did. An adapter that cannot stop early waits out the
  // timeout instead.
  std::stop_token stop;
};

// A live subscription. Destroying it unsubscribes and waits for a running
// handler call to return; no handler call starts afterwards. Deliveries
// still unsettled are released to the broker (redelivered where it can).
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Stops taking new messages from the broker (adapters that pull, such as
  // Redis Streams, stop reading) while deliveries already made can still be
  // settled. Shutdown calls it first and destroys the subscription once
  // everything is settled. Push-based adapters need do nothing.
  virtual void Pause() {}
  // For a reload that keeps this broker: stops delivering (waiting for a
  // running handler call to return, so none starts afterwards), but the
  // broker keeps the subscription's queue, and settles what is still out,
  // until a Subscribe with the same hand_over_key, pattern and queue group
  // takes it over; meanwhile messages keep queueing (publishers wait when
  // it is full). Destroying the handed-over object then changes nothing.
  // False: this adapter cannot (only the embedded broker can, for
  // subscriptions with a hand_over_key); nothing happened.
  // Must not be called from the subscription's own handler.
  virtual bool HandOver() { return false; }
};

struct BrokerCapabilities {
  bool headers = true;               // metadata survives the trip
  bool native_request_reply = true;  // reply subjects, not a header convention
  bool queue_groups = true;
  bool redelivery = true;            // Nack leads to another delivery
  bool durable = false;              // accepted messages survive a broker restart
  bool wildcard_subscriptions = true;  // '*' and '>' patterns (else Unsupported)
};

class Broker {
 public:
  virtual ~Broker() = default;

  // The configured URL with any credentials removed: safe to log.
  virtual std::string DisplayUrl() const = 0;
  virtual BrokerCapabilities Capabilities() const = 0;

  // Opens the connection. Idempotent. Later losses are repaired by the
  // adapter (reconnect with backoff) and reported through OnStateChange.
  virtual Status Connect() = 0;
  // Closes the connection; subscriptions stop delivering. Idempotent.
  virtual void Close() = 0;
  virtual ConnectionState State() const = 0;
  // `callback` runs on an adapter thread on every state change; set once,
  // before Connect.
  virtual void OnStateChange(std::function<void(ConnectionState)> callback) = 0;

  // Publishes one message to `message.topic` (a concrete topic). Blocks while
  // the broker applies flow control, but not past `deadline` (then
  // ResourceExhausted). While disconnected it fails promptly with Connection.
  virtual Status Publish(const Message& message, Deadline deadline) = 0;

  // Publishes without waiting for the broker's confirmation (MQTT PUBACK,
  // JetStream ack, XADD reply, Kafka delivery report, AMQP confirm). Returns
  // once the message is in this connection's window of unconfirmed
  // publishes; while the window is full it waits for room, but not past
  // `deadline` (then ResourceExhausted). An error returned here means the
  // message was not taken and `done` is never called. Ok means `done` is
  // called exactly once with the outcome: Ok once the broker confirmed it,
  // else why it was lost (it may still have arrived: at least once). `done`
  // may run before PublishAsync returns, on the calling thread, or later on
  // a thread of the adapter; it must be quick and must not block or call
  // back into this broker. The default waits (Publish), then calls `done`:
  // right for brokers without confirmations (core NATS, Redis pub/sub, the
  // embedded broker), where a publish is complete once sent.
  virtual Status PublishAsync(const Message& message, Deadline deadline, PublishCompletion done);
  // Publishes in this connection's window, not yet confirmed (the metrics
  // page's gauge). Brokers without confirmations have none.
  virtual std::uint64_t UnconfirmedPublishes() const { return 0; }

  virtual Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                          DeliveryHandler handler) = 0;

  // Publishes `message` with a private reply address and collects replies
  // until `expected_replies` arrived or the timeout passed. No reply at all
  // within the timeout is a Timeout error; some replies are a success.
  virtual Result<std::vector<Message>> Request(const Message& message,
                                               const RequestOptions& options) = 0;

  // Ends the subscriptions handed over (Subscription::HandOver) that no
  // Subscribe took up, dropping what they queued (logged). Called once a
  // reload's new configuration runs; the destructor does it too.
  virtual void EndHandOvers() {}
};

// Logs, once per process and key, each extension key `adapter` does not
// know. Adapters call it from Subscribe.
void WarnUnknownExtensions(std::string_view adapter,
                           const std::map<std::string, std::string>& extensions,
                           std::initializer_list<std::string_view> known);

// Makes a broker for `url` (whose scheme the factory was registered for);
// `options` are the broker's settings from the configuration
// (BrokerConfig::options), as strings. An error fails Host::Start (or
// Check) with its message.
using BrokerFactory = std::function<Result<std::unique_ptr<Broker>>(
    std::string_view url, const std::map<std::string, std::string>& options)>;

// While it lives, brokers whose URL has scheme `scheme` ("mybus" for
// "mybus://...") are made with `make`: how an embedding program plugs in a
// Broker of its own, and how tests inject faults by wrapping an adapter
// (tests/support/faulty_broker.h). Ferry's own schemes (mem, nats, ...)
// cannot be replaced, nor one registered already: Create says so
// (FailedPrecondition). Process-wide and thread-safe; keep it alive for as
// long as a Host may make (start, check or reload) such a broker.
class ScopedBrokerScheme {
 public:
  static Result<std::unique_ptr<ScopedBrokerScheme>> Create(std::string scheme, BrokerFactory make);
  ~ScopedBrokerScheme();  // unregisters
  ScopedBrokerScheme(const ScopedBrokerScheme&) = delete;
  ScopedBrokerScheme& operator=(const ScopedBrokerScheme&) = delete;

 private:
  explicit ScopedBrokerScheme(std::string scheme) : scheme_(std::move(scheme)) {}
  std::string scheme_;
};

// 16 random hex digits, then a process-wide counter: names adapters make up
// (client ids, reply topics, inboxes, message ids) that no other process or
// call picks too. Thread-safe.
std::string RandomToken();

}  // namespace ferry
