#include "core/http_url.h"

namespace ferry {

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://"))
    rest = url.substr(7);
  else if (url.starts_with("https://"))
    rest = url.substr(8);
  else
    return Error::InvalidArgument("expected an http:// or https:// URL, got '" + std::string(url) + "'");
  const std::size_t slash = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, slash);
  if (authority.empty() || authority.starts_with(':'))
    return Error::InvalidArgument("no host in '" + std::string(url) + "'");
  if (authority.find('@') != std::string_view::npos)
    return Error::InvalidArgument("a URL with credentials is refused (they would be logged): '" +
                                  std::string(url.substr(0, url.find("//") + 2)) + "…'");
  if (url.find('#') != std::string_view::npos)
    return Error::InvalidArgument("a fragment has no meaning here: '" + std::string(url) + "'");
  HttpUrl out;
  out.origin = std::string(url.substr(0, url.size() - rest.size())) + std::string(authority);
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.path.starts_with('?')) out.path.insert(0, "/");
  return out;
}

}  // namespace ferry
