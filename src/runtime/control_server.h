// The local control socket of a running host: lets `ferry publish`,
// `ferry request` and `ferry subscribe` (through ferry/control.h) reach the
// host's brokers, above all the embedded one, which no other process can.
// A Unix domain socket created with mode 0600: only the same user may talk.
// The wire format is described in runtime/control_protocol.h.
//
// Threading: one thread accepts; each connection is served on a thread of
// its own, up to `max_connections` at once. A connection past that is
// answered with a ResourceExhausted error frame by the accepting thread and
// closed, so a flood of clients costs no threads. Subscribed messages are
// written from the broker's delivery thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "brokers/broker.h"
#include "runtime/control_protocol.h"

namespace ferry {

struct ControlServerOptions {
  // The longest a control request waits for replies (a client's timeout is
  // capped to it; 0 means this) and a publish waits out back-pressure.
  // Stop waits for calls in flight, so this also bounds how long Stop takes.
  std::chrono::milliseconds max_wait{30000};
  // How long a client that connected may take to send its request.
  std::chrono::milliseconds read_timeout{10000};
  // Connections served at once ([host].max_control_connections); a
  // subscriber holds its slot until it leaves.
  std::uint32_t max_connections = 64;
  // What a status request gets (JSON); empty: status is not served.
  std::function<std::string()> status;
};

// Maps a configured broker name to its broker, or null. Called on
// connection threads; the connection keeps the broker alive while it uses
// it, so the host may replace a broker (a reload) while the server runs.
using BrokerLookup = std::function<std::shared_ptr<Broker>(std::string_view name)>;

class ControlServer {
 public:
  ControlServer(std::filesystem::path path, BrokerLookup find_broker,
                ControlServerOptions options = {});
  ~ControlServer();  // Stop()

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds and starts accepting. A socket file nobody listens on (left by a
  // process that died) is replaced; one a live process listens on, or a
  // path that is not a socket, is an error and is left alone.
  Status Start();
  // Stops accepting, ends every connection (subscribers see the stream
  // close), waits for calls in flight and removes the socket file.
  // Idempotent; not to be called concurrently with Start.
  void Stop();
  // Ends the connections using `broker` (a reload replaces it): their
  // clients see the stream close. Any thread.
  void EndConnectionsTo(const Broker* broker);

  const ControlServerOptions& options() const { return options_; }

  const std::filesystem::path& path() const { return path_; }

 private:
  struct Connection {
    int fd = -1;  // -1 once closed; guarded by mutex_
    const Broker* broker = nullptr;  // the one it uses, once known; guarded by mutex_
    bool finished = false;
    std::thread thread;
  };

  void AcceptLoop();
  // Joins the threads of connections that ended; returns how many remain.
  std::size_t ReapFinished();
  void Refuse(int fd, std::size_t served);
  void Serve(Connection& connection);
  void ServePublish(int fd, Broker& broker, const control::Request& request);
  void ServeRequest(int fd, Broker& broker, const control::Request& request);
  void ServeSubscribe(int fd, Broker& broker, const control::Request& request);
  void ServePublishStream(int fd, Broker& broker);

  const std::filesystem::path path_;
  const BrokerLookup find_broker_;
  const ControlServerOptions options_;
  int listen_fd_ = -1;
  ino_t socket_inode_ = 0;  // Stop removes the file only if it is still ours
  std::atomic<bool> stopping_{false};
  Clock::time_point last_refusal_log_{};  // accepting thread only
  std::thread acceptor_;
  std::mutex mutex_;
  std::list<std::unique_ptr<Connection>> connections_;
};

}  // namespace ferry
