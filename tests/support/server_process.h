// Real broker servers for tests: each runs from its Debian package on a free
// loopback port, in a folder of its own, and is stopped when the object goes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "ferry/result.h"
#include "support/host_fixture.h"
#include "support/ports.h"

namespace ferry::testing {

// Finds an executable on PATH, /usr/sbin or /usr/local/sbin; empty if absent.
std::filesystem::path FindProgram(const std::string& name);

// One server process. The argv may mention "$PORT" and "$DIR"; they are
// replaced by the port and the server's own folder. Start waits until the
// port accepts connections (and a ReadyWhen check passes); the server's output
// goes to $DIR/server.log.
class ServerProcess {
 public:
  ServerProcess(std::string name, std::vector<std::string> argv);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Fixes the port before the first Start (for servers whose config file
  // names it); otherwise Start picks a free one.
  void UsePort(std::uint16_t port) { port_ = port; }
  // An open port is not always readiness: Start then also waits until
  // `check` returns true (Kafka: a metadata request succeeds).
  void ReadyWhen(std::function<bool()> check) { ready_ = std::move(check); }
  // Starts on a fresh port the first time and on the same port afterwards,
  // so clients can reconnect to a restarted server.
  Status Start(std::chrono::milliseconds limit = std::chrono::seconds(20));
  // SIGTERM, then SIGKILL after a grace period; waits for the exit.
  void Stop();
  // SIGKILL: the server gets no chance to flush anything.
  void Kill();
  bool running() const { return pid_ > 0; }

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The last lines the server wrote, for failure messages.
  std::string LogTail() const;

 private:
  void Wait();

  std::string name_;
  std::vector<std::string> argv_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::function<bool()> ready_;
};

}  // namespace ferry::testing
