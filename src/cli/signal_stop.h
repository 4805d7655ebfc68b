// SIGINT and SIGTERM for the commands that talk to a running ferry
// (publish, request, subscribe). main blocks both for every thread, for
// `ferry run`'s sigwait; these commands block in a socket read instead, so a
// thread of their own takes the signal and asks the command to stop. The
// command then ends its control call cleanly (no half-printed message) and
// exits with 128 + the signal number, as a shell expects.
#pragma once

#include <atomic>
#include <memory>
#include <stop_token>

namespace ferry::cli {

class SignalStop {
 public:
  // Starts the watching thread. It stays until the process exits: it is
  // parked in sigwait and owns what it touches, so it is never joined.
  static SignalStop Watch();

  std::stop_token token() const { return source_.get_token(); }
  // The exit code for a command the signal stopped: 130 for SIGINT, 143 for
  // SIGTERM; 0 while no signal came.
  int ExitCode() const;

 private:
  SignalStop() = default;
  std::stop_source source_;
  // Set by the watcher before it requests the stop, so whoever sees the
  // stop sees the signal.
  std::shared_ptr<std::atomic<int>> signal_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace ferry::cli
