// host:port addresses Ferry listens on (the metrics endpoint).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "ferry/result.h"

namespace ferry {

// Splits "host:port"; an IPv6 host goes in brackets ("[::1]:9464"), which
// are removed. Port 0 asks for any free port.
Result<std::pair<std::string, int>> ParseListenAddress(std::string_view address);

}  // namespace ferry
