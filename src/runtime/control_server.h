// The local control socket of a running host: lets `ferry publish`,
// `ferry request` and `ferry subscribe` reach its brokers, the embedded one
// above all. Unix domain socket, mode 0600: only the same user may talk.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "brokers/broker.h"

namespace ferry {

class ControlServer {
 public:
  // `find_broker` maps a configured broker name to the broker, or null.
  ControlServer(std::filesystem::path path, std::function<Broker*(std::string_view)> find_broker);
  ~ControlServer();

  // Binds and starts accepting. A stale socket file is replaced; a socket
  // another live process listens on is an error.
  Status Start();
  // Stops accepting, ends every connection, removes the socket file.
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);

  std::filesystem::path path_;
  std::function<Broker*(std::string_view)> find_broker_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> client_fds_;
  std::vector<std::thread> clients_;
};

}  // namespace ferry
