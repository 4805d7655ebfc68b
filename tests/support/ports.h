// Loopback ports for servers started by tests and benchmarks. No gtest here:
// the benchmarks use it too.
#pragma once

#include <cstdint>

namespace ferry::testing {

// A TCP port on 127.0.0.1 that nothing listens on right now.
std::uint16_t FreePort();

// True when a TCP connection to 127.0.0.1:port succeeds.
bool PortAcceptsConnections(std::uint16_t port);

}  // namespace ferry::testing
