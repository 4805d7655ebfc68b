// A check every broker with confirmed sends shares: a guest's send returns
// (it is in the broker's window), the broker then refuses it, and the
// delivery that sent it fails, is tried once more, and is given up, never
// acknowledged as handled.
#pragma once

#include <string>

namespace ferry::testing {

// Runs the misbehave component on `broker_url`, subscribed to `in_topic`
// (max_attempts 2), makes it send three messages to `refused_topic`, which
// the broker must refuse after accepting them, and checks the outcome.
void ExpectARefusedSendFailsItsDelivery(const std::string& broker_url, const std::string& in_topic,
                                        const std::string& refused_topic);

}  // namespace ferry::testing
