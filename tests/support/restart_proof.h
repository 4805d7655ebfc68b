// Reliability proof 7 (docs/RELIABILITY.md): a durable broker restarted
// again and again while a host runs an echo under steady load, and every
// message the host accepted is shown handled at least once.
//
// The proof publishes m0, m1, ... through the host on a thread of its own
// (a publish is "accepted" when the host returned ok: the broker confirmed
// it) while the calling thread restarts the server `restarts` times. After
// each restart it waits until the host accepts publishes again. Then it
// waits until every accepted body is among the outputs the test reads back
// (echo.out, durably), and reports duplicates, which at-least-once allows.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <vector>
#include <string>

#include "ferry/result.h"
#include "support/server_process.h"

namespace ferry::testing {

struct RestartProof {
  std::string label;          // for the printed figures
  ServerProcess* server = nullptr;
  bool kill = true;           // SIGKILL each time; false: SIGTERM (the server saves first)
  int restarts = 10;          // FERRY_PROOF_RESTARTS overrides
  std::chrono::milliseconds up{400};    // load between restarts
  std::chrono::milliseconds down{200};  // how long the server stays away
  // Publishes one body to the echo's input through the host under test.
  std::function<Status(const std::string& body)> publish;
  // What the echo wrote so far: body -> times seen.
  std::function<std::map<std::string, int>()> outputs;
};

struct RestartResult {
  int restarts = 0;     // restarts done, each followed by the host accepting again
  int accepted = 0;     // publishes the host confirmed
  int refused = 0;      // publishes refused (the server was away): not the host's to keep
  int handled = 0;      // accepted bodies found among the outputs
  int duplicates = 0;   // extra copies of accepted bodies (allowed: at least once)
};

// Runs the proof and records its figures as test properties; the caller
// asserts on the result (ExpectRestartsLoseNothing does the usual).
RestartResult ProveRestarts(const RestartProof& proof);
void ExpectRestartsLoseNothing(const RestartProof& proof);

// Publishes "probe" through `publish` every `gap` (at most 100 times) until
// it is among `outputs`: the echo answers and whoever reads its output is
// subscribed. False (after a test failure for a refused publish) if never.
bool ProbeUntilEchoed(const std::function<Status(const std::string& body)>& publish,
                      const std::function<std::vector<std::string>()>& outputs,
                      std::chrono::milliseconds gap);

// Waits (up to `limit`) until every body in `accepted` is among what
// `outputs` returns, then expects none missing and names some that are.
void ExpectEveryAcceptedCameOut(const std::set<std::string>& accepted,
                                const std::function<std::vector<std::string>()>& outputs,
                                std::chrono::seconds limit);

}  // namespace ferry::testing
