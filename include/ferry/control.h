// Talking to a running `ferry run` through its local control socket: publish,
// request and subscribe on any broker it has configured. This is how
// `ferry publish` reaches the embedded broker, which lives inside that
// process.
//
// Every call opens its own connection (a ControlPublisher keeps one for
// many publishes) and blocks the calling thread; the
// callbacks run on that thread. A stop requested on `stop` (from any
// thread, e.g. one that took SIGINT) ends the call promptly: the
// connection is shut down and the call returns Cancelled, never in the
// middle of an `on_message` call. Errors:
//   Connection        nobody listens on `socket`, or the host went away
//   PermissionDenied  the socket belongs to another user
//   Cancelled         `stop` was requested
//   ResourceExhausted the message does not fit in a control frame (64 MiB),
//                     or the host already serves as many control
//                     connections as it allows
//   anything else     what the host's broker answered (NotFound for an
//                     unknown broker name, Timeout for no reply, ...)
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stop_token>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry {

// Publishes `message` to `message.topic` on the host's broker named `broker`
// ("default" is the one every host has).
Status ControlPublish(const std::filesystem::path& socket, std::string_view broker,
                      const Message& message, std::stop_token stop = {});

// Publishes many messages over one connection, in order, each answered
// before Publish returns: what `ferry publish --count` and `ferry bench`
// use, where a connection per message would mostly measure connecting.
// One thread at a time; a stop requested on the `stop` given to Open ends
// a Publish in progress (Cancelled) and every later one.
class ControlPublisher {
 public:
  static Result<std::unique_ptr<ControlPublisher>> Open(const std::filesystem::path& socket,
                                                        std::string_view broker,
                                                        std::stop_token stop = {});
  ~ControlPublisher();
  ControlPublisher(const ControlPublisher&) = delete;
  ControlPublisher& operator=(const ControlPublisher&) = delete;

  // Publishes `message` to `message.topic` on the publisher's broker. After
  // a transport error (the host went away) every later call fails too.
  Status Publish(const Message& message);

  struct State;

 private:
  explicit ControlPublisher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Sends a request and returns its replies once `expected_replies` arrived,
// or those that arrived within `timeout` (none at all is a Timeout error).
// The host caps `timeout` at its own bound; zero asks for that bound.
Result<std::vector<Message>> ControlRequest(const std::filesystem::path& socket,
                                            std::string_view broker, const Message& message,
                                            std::chrono::milliseconds timeout,
                                            std::uint32_t expected_replies,
                                            std::stop_token stop = {});

// The running host's figures as one JSON object: components (deliveries
// received, handled, failed by reason, in flight, queue depth, handler
// time), brokers (state, reconnects), the process (memory, threads, open
// files) and whether it is ready.
Result<std::string> ControlStatus(const std::filesystem::path& socket, std::stop_token stop = {});

// Calls `on_message` for each message on `pattern` until `count` arrived (0:
// no limit), `on_message` returns false, or the host stops (a Connection
// error). Once the subscription is in place, `on_ready` runs (if given):
// messages published after that are seen.
Status ControlSubscribe(const std::filesystem::path& socket, std::string_view broker,
                        std::string_view pattern, std::uint32_t count,
                        const std::function<bool(const Message&)>& on_message,
                        const std::function<void()>& on_ready = {},
                        std::stop_token stop = {});

}  // namespace ferry
