// Embedding Ferry: load components, attach brokers, run. The `ferry` command
// is built on exactly this header (and control.h), so a C++ program can do
// whatever the command does. A program may also build the configuration in
// code (ferry/config.h) and plug in brokers of its own (ferry/broker.h);
// docs/EMBEDDING.md walks through examples/embed/.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/config.h"
#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry {

struct HostOptions {
  // A configuration built in code (ferry/config.h): brokers, components
  // (from files or from bytes in memory), limits. When set, it is used and
  // config_file / component are not. Create checks it as it checks a file.
  std::optional<config::Config> config;
  // Or a ferry.toml ...
  std::filesystem::path config_file;
  // ... or one component, subscribed to these topics, on the broker at
  // `broker_url` (empty: the embedded one, mem://). It may use all of that
  // broker; a ferry.toml grants less.
  std::filesystem::path component;
  std::vector<std::string> subscriptions;
  std::string broker_url;
  // Overrides [host].control_socket when not empty.
  std::filesystem::path control_socket;
  // Overrides [host].log_level when not empty.
  std::string log_level;
  // Overrides [host].log_format ("text" or "json") when not empty.
  std::string log_format;
};

struct ComponentStats {
  std::string name;
  std::uint64_t received = 0;
  std::uint64_t handled = 0;
  std::uint64_t failed = 0;     // failed attempts (errors, traps, timeouts)
  std::uint64_t abandoned = 0;  // attempts the component gave back (0.1.0 abandon-message)
  std::uint64_t given_up = 0;   // deliveries whose attempts ran out
  std::uint64_t dead_lettered = 0;  // of those, sent to the dead-letter topic
  std::uint64_t released = 0;   // returned to the broker unhandled at shutdown
  std::uint64_t settle_failed = 0;  // acks, nacks and terms the broker refused
  std::vector<std::string> subscriptions;  // patterns subscribed to now
};

// A message Ferry holds to try again itself, because its broker cannot
// redeliver (core NATS, Redis pub/sub): taken from a host stopped for a
// reload and given to the next one, so it is not lost in between.
struct HeldRetry {
  std::string component;  // the component it is for, by name
  Message message;
  std::uint32_t attempt = 1;            // the attempt it will be
  std::chrono::milliseconds delay{0};   // left until that attempt
};

// Where Host::Listen may call its callback: see Host::Listen.
enum class ListenMode { kOwnThread, kInline };

// Keeps a Host::Listen subscription alive; destroying it unsubscribes and
// waits for a running callback to return. Host::Stop (and so destroying the
// Host) ends the subscription too, the same way, before the brokers close:
// a Listener may outlive its Host, and destroying it afterwards does
// nothing. It does not resume if the Host is started again.
class Listener {
 public:
  virtual ~Listener() = default;
};

class Host {
 public:
  // Reads the configuration and checks it; nothing runs yet. The first
  // call also asks glibc's malloc to keep freed payload buffers (up to
  // 64 MiB) for reuse rather than return them to the kernel: a process-wide
  // setting, made once.
  static Result<std::unique_ptr<Host>> Create(const HostOptions& options);
  virtual ~Host() = default;

  // Connects brokers, compiles and instantiates components, subscribes, and
  // opens the control socket. On error nothing is left running.
  virtual Status Start() = 0;
  // Loads every component and checks every broker URL, without connecting
  // or subscribing: what a reload runs before it stops the running host.
  virtual Status Check() = 0;
  // Stops taking messages, lets in-flight handling finish for up to `grace`,
  // gives whatever is left back to the brokers, and closes everything.
  // Retries Ferry holds itself cannot be given back: those due within
  // `grace` run now, the rest go to the component's dead-letter topic with
  // reason `shutdown` (without one they are logged and counted as given up).
  virtual void Stop(std::chrono::milliseconds grace) = 0;
  // Stop for a reload into another Host object: the same, except that
  // retries Ferry holds for a component named in `hand_over` (the next
  // configuration's components) are kept and returned, for the next host's
  // AdoptRetries. The brokers close with this host, so this suits outside
  // brokers only; Reload keeps the embedded broker and the control socket.
  virtual std::vector<HeldRetry> StopForReload(std::chrono::milliseconds grace,
                                               const std::vector<std::string>& hand_over) = 0;
  // Takes over retries from a host stopped for a reload; call after Start.
  // One for a component this host does not run is logged as lost.
  virtual void AdoptRetries(std::vector<HeldRetry> retries) = 0;
  // The names of the configured components.
  virtual std::vector<std::string> ComponentNames() const = 0;

  // Replaces the running configuration with the one `options` names (read
  // as Create reads it), which is what `ferry run` does on SIGHUP. The new
  // configuration is read, its broker URLs checked and every component
  // compiled first; an error there leaves everything running as it was.
  // Then the components stop as for StopForReload (within `grace`) and the
  // new ones start, taking over the retries Ferry holds.
  // What outlives the reload: the control socket (unless its path or
  // connection limit changed) with its clients, and the embedded broker
  // (unless its settings changed) with its subscribers, Listeners and the
  // messages queued on it: a component of the same name takes up its
  // subscriptions where the old one left them, so messages published during
  // the swap wait in the broker's queue (publishers are held back when it
  // is full) and go to the new component. Connections to outside brokers
  // are made anew; their Listeners and control clients are ended.
  // If the new configuration fails to start, the previous one is started
  // again and the error returned; if that fails too, the host is stopped.
  // Every failure is also logged.
  virtual Status Reload(const HostOptions& options, std::chrono::milliseconds grace) = 0;

  // Publishes through a configured broker ("default" is always there).
  virtual Status Publish(std::string_view broker, const Message& message) = 0;
  virtual Result<std::vector<Message>> Request(std::string_view broker, const Message& message,
                                               std::chrono::milliseconds timeout,
                                               std::uint32_t expected_replies) = 0;

  // Calls `on_message` (on a broker thread, one call at a time) for each
  // message matching `pattern` on a configured broker, until the returned
  // Listener is destroyed or the host stops, whichever comes first.
  // ListenMode::kInline promises that `on_message` is quick and never
  // blocks; a broker that can (the embedded one) may then call it on the
  // publishing thread instead of handing the message to a thread of its
  // own. Calls stay one at a time and in order.
  virtual Result<std::unique_ptr<Listener>> Listen(
      std::string_view broker, std::string_view pattern,
      std::function<void(const Message&)> on_message, ListenMode mode) = 0;
  Result<std::unique_ptr<Listener>> Listen(std::string_view broker, std::string_view pattern,
                                           std::function<void(const Message&)> on_message) {
    return Listen(broker, pattern, std::move(on_message), ListenMode::kOwnThread);
  }

  // Counters of each component; after Stop, their final values.
  virtual std::vector<ComponentStats> Stats() const = 0;
};

// What `ferry inspect` prints.
struct ComponentDescription {
  std::string shape;  // which wasi:messaging shape it speaks
  std::vector<std::string> imports;
  std::vector<std::string> exports;
  Status runnable;    // why Ferry would refuse to run it, if it would
};
Result<ComponentDescription> DescribeComponent(const std::filesystem::path& path);

// "off", "error", "warn", "info", "debug", "trace". Logs go to stderr.
Status SetLogLevel(std::string_view level);
// "text" (the default) or "json": one object per line with time, level,
// component and topic (when the line is about one) and message.
Status SetLogFormat(std::string_view format);

std::string_view Version();

}  // namespace ferry
