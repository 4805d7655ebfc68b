// A small HTTP/1.1 server on 127.0.0.1 for tests of outgoing HTTP: it
// answers every request with 200 and "you asked for <path>", one request per
// connection, and remembers the paths it was asked for.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ferry::testing {

class HttpServer {
 public:
  // Listens on a free loopback port; port() is 0 when it could not.
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  // The request targets seen so far, in order.
  std::vector<std::string> Paths();

 private:
  void Serve();  // the accept thread
  void Answer(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<std::string> paths_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace ferry::testing
