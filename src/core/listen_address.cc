#include "core/listen_address.h"

#include <charconv>

namespace ferry {

Result<std::pair<std::string, int>> ParseListenAddress(std::string_view address) {
  const auto bad = [&](std::string_view why) {
    return Error::InvalidArgument("address '" + std::string(address) + "' " + std::string(why) +
                                  " (expected host:port, e.g. 127.0.0.1:9464)");
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("has no host:port form");
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("has an unclosed IPv6 bracket");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("needs brackets around an IPv6 host");
  }
  int port = -1;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535)
    return bad("has no valid port (0-65535)");
  return std::pair<std::string, int>(std::string(host), port);
}

}  // namespace ferry
