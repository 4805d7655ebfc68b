// `ferry run --config <file>` as a separate process, the way a user runs it,
// for tests that need several hosts at once or a host to kill.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "ferry/result.h"
#include "support/host_fixture.h"

namespace ferry::testing {

// True once something accepts connections on the Unix socket at `path`.
// The file appears at bind(), a moment before listen(): its existence alone
// does not tell that a `ferry run` is ready.
bool SocketAccepting(const std::filesystem::path& path);

class FerryProcess {
 public:
  // `config_toml` as for RunningHost ("$COMPONENTS" is replaced).
  explicit FerryProcess(const std::string& config_toml);
  ~FerryProcess();

  // Starts the process and waits until its control socket exists, which
  // happens once every component is subscribed.
  Status Start();
  // SIGTERM; returns the exit status (or -1 if it did not exit normally).
  int Stop();
  void Kill();  // SIGKILL
  void Signal(int signal);
  // Replaces the config file (as the constructor writes it), e.g. before SIGHUP.
  void Rewrite(const std::string& config_toml);
  const std::filesystem::path& control_socket() const { return socket_; }
  pid_t pid() const { return pid_; }  // -1 when not running
  std::string Log() const;  // what it wrote to stderr

 private:
  TempDir dir_;
  std::filesystem::path config_;
  std::filesystem::path socket_;
  pid_t pid_ = -1;
};

}  // namespace ferry::testing
