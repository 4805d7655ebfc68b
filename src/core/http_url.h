// http:// and https:// URLs Ferry sends to (the OTLP span endpoint).
#pragma once

#include <string>
#include <string_view>

#include "ferry/result.h"

namespace ferry {

struct HttpUrl {
  std::string origin;  // "http://host:port" (the port as given, or none)
  std::string path;    // "/..." with any query; "/" when the URL has none
};

// Splits an absolute http(s) URL into origin and path. Refuses other
// schemes, a missing host, user information (credentials belong in the
// environment, not in a URL that is logged) and fragments.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

}  // namespace ferry
