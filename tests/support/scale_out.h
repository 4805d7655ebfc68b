// Scaling out through the broker: several `ferry run` processes run the
// echo in one queue group on a durable broker and share a stream of
// messages; optionally one is killed partway and the others take over.
#pragma once

#include <vector>

#include "support/durability.h"

namespace ferry::testing {

struct ScaleOutResult {
  int sent = 0;
  int handled = 0;     // distinct messages seen on echo.out
  int duplicates = 0;  // seen more than once (at least once allows it)
  std::vector<std::uint64_t> split;  // handled per host, from `ferry status`
};

// `run` as for ProveNoLoss (its stop_signal unused); `hosts` processes;
// with `kill_one`, the first is SIGKILLed after a third was published (its
// share then counts what it reported last). FERRY_SCALE_MESSAGES overrides
// run.messages.
ScaleOutResult ProveScaleOut(const DurabilityRun& run, int hosts, bool kill_one);

}  // namespace ferry::testing
