#include "cli/signal_stop.h"

#include <atomic>
#include <csignal>
#include <memory>
#include <system_error>
#include <thread>

namespace ferry::cli {

SignalStop SignalStop::Watch() {
  SignalStop watch;
  try {
    std::thread([source = watch.source_, taken = watch.signal_]() mutable {
      // main blocked these before any thread started, so sigwait is the
      // only way they arrive.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      int signal = 0;
      if (::sigwait(&set, &signal) != 0) return;
      taken->store(signal);
      source.request_stop();
    }).detach();
  } catch (const std::system_error&) {
    // No thread: the command still works; only the signals wait for it.
  }
  return watch;
}

int SignalStop::ExitCode() const {
  const int signal = signal_->load();
  return signal == 0 ? 0 : 128 + signal;
}

}  // namespace ferry::cli
