// A check every broker with confirmed sends shares: a guest's send returns
// (it is in the broker's window), the broker then refuses it, and the
// delivery that sent it fails, is tried once more, and is given up, never
// acknowledged as handled.
#pragma once

#include <string>

#include "support/host_fixture.h"

namespace ferry::testing {

// Publishes `command` (a misbehave "burst <n> <topic>" whose topic the broker
// refuses after accepting its messages) to `in_topic` of the misbehave
// component running on `h` with max_attempts = 2, and checks the outcome:
// two failed attempts, nothing handled, the failure logged as unconfirmed,
// with `broker_reason` in the log when it is not empty.
void ExpectARefusedSendFailsItsDelivery(RunningHost& h, const std::string& in_topic, const std::string& command,
                                        const std::string& broker_reason);

// The same on a host of its own: misbehave on `broker_url`, subscribed to
// `in_topic`, sending three messages to `refused_topic`.
void ExpectARefusedSendFailsItsDelivery(const std::string& broker_url, const std::string& in_topic,
                                        const std::string& refused_topic, const std::string& broker_reason);

}  // namespace ferry::testing
