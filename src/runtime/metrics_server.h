// The HTTP listener of `[host].metrics`: /metrics (Prometheus text),
// /healthz (the process answers) and /readyz (200 when the host is ready,
// 503 with the reason when not). Served by cpp-httplib on a thread pool of
// its own; the snapshot callback runs on those threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "ferry/result.h"
#include "runtime/metrics.h"

namespace httplib {
class Server;
}

namespace ferry {

class MetricsServer {
 public:
  using Snapshot = std::function<HostSnapshot()>;

  // `address` is host:port ("127.0.0.1:9464", "[::1]:9464"; port 0 picks one).
  MetricsServer(std::string address, Snapshot snapshot);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts serving; an address that cannot be bound is an error.
  Status Start();
  void Stop();

  const std::string& address() const { return address_; }
  int port() const { return port_; }

 private:
  std::string address_;
  Snapshot snapshot_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace ferry
