// Configuration files for the mosquitto servers tests start.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::testing {

// A mosquitto.conf listening on loopback at `port`, followed by `rest`.
// Started as root, mosquitto drops to the `mosquitto` user, which cannot
// write a test's private directory (its persistence file would silently
// never be saved): it stays who we are.
std::string MosquittoConf(std::uint16_t port, const std::string& rest);

}  // namespace ferry::testing
