// The reliability proofs that need a durable broker: a Ferry host is
// stopped in the middle of a stream of messages (SIGKILL, or SIGTERM), a new
// one takes over, and every message is shown handled at least once.
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ferry::testing {

struct DurabilityRun {
  // ferry.toml [brokers] body that makes "default" durable, e.g.
  // default = { url = "...", publish = "streams", claim_idle_ms = 500 }
  std::string brokers_toml;
  std::string broker_url;  // for the test's own publisher and counter
  std::string extensions;  // the echo component's extensions, TOML inline table or ""
  std::string topic;       // where the echo listens (unique per run)
  // How the test reads echo.out (Redis: {mode = streams}, where hosts write).
  std::map<std::string, std::string> counter_extensions;
  // Settings of the test's own publishing connection. Unset: what Redis
  // (publish = streams) or NATS (jetstream = topic) need.
  std::optional<std::map<std::string, std::string>> publisher_options;
  int messages = 1000;     // FERRY_PROOF_MESSAGES overrides
  int stop_signal = SIGKILL;
};

struct DurabilityResult {
  int sent = 0;
  int handled = 0;      // distinct messages seen on echo.out
  int duplicates = 0;   // seen more than once (allowed: at least once)
  int first_exit = -1;  // exit status of the stopped host (SIGTERM: 0)
};

DurabilityResult ProveNoLoss(const DurabilityRun& run);

// Runs ProveNoLoss and expects every message sent handled (and exit 0 from
// a host stopped with SIGTERM); prints and records the figures under `label`.
void ExpectNoLoss(const DurabilityRun& run, const std::string& label);

}  // namespace ferry::testing
