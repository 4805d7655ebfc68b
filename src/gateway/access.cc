#include "gateway/access.h"

#include <openssl/crypto.h>

#include "core/topic.h"

namespace ferry::gateway {
namespace {

// Equal without telling a timing observer how many bytes matched.
bool SecretEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// "https://host:port" → "host:port"; compared with the Host header for the
// same-origin default.
std::string_view OriginAuthority(std::string_view origin) {
  const std::size_t scheme = origin.find("://");
  return scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
}

Status Check(const std::vector<std::string>& grants, std::string_view what, std::string_view key,
             std::string_view verb) {
  for (const auto& g : grants)
    if (PatternCovers(g, what)) return Status::Ok();
  return Error::PermissionDenied("not allowed to " + std::string(verb) + " '" + std::string(what) +
                                 "' (gateway grant " + std::string(key) + ")");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool AccessPolicy::OriginAllowed(const Handshake& h) const {
  // Not a browser: the Origin check protects pages, and any other client
  // could send whatever Origin it liked.
  if (!h.origin) return true;
  for (const auto& o : config_.allowed_origins)
    if (o == "*" || o == *h.origin) return true;
  for (const auto& o : config_.origins)
    if (o.origin == *h.origin) return true;
  if (!config_.allowed_origins.empty() || !config_.origins.empty()) return false;
  // Nothing configured: a page this gateway served itself.
  const std::string_view scheme = h.tls ? "https://" : "http://";
  return h.origin->starts_with(scheme) && OriginAuthority(*h.origin) == h.host;
}

Result<Principal> AccessPolicy::Admit(const Handshake& h) const {
  if (!OriginAllowed(h))
    return Error::PermissionDenied("origin " + *h.origin + " is not allowed (gateway.allowed_origins)");
  if (h.token) {
    for (const auto& t : config_.tokens)
      if (SecretEquals(t.token, *h.token)) return Principal{t.grants, t.where};
    return Error::FailedPrecondition("the token is not one of [[gateway.token]]");
  }
  if (config_.require_token)
    return Error::FailedPrecondition("a token is required (Authorization: Bearer or ?access_token=)");
  if (h.origin)
    for (const auto& o : config_.origins)
      if (o.origin == *h.origin) return Principal{o.grants, "origin " + o.origin};
  return Principal{config_.grants, "anonymous"};
}

Status AccessPolicy::MayPublish(const config::GatewayGrants& g, std::string_view topic) {
  return Check(g.allow_publish, topic, "allow_publish", "publish to");
}

Status AccessPolicy::MaySubscribe(const config::GatewayGrants& g, std::string_view pattern) {
  return Check(g.allow_subscribe, pattern, "allow_subscribe", "subscribe to");
}

Status AccessPolicy::MayRequest(const config::GatewayGrants& g, std::string_view topic) {
  return Check(g.allow_request, topic, "allow_request", "send requests to");
}

std::optional<std::string> QueryParameter(std::string_view target, std::string_view name) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && HexValue(raw[i + 1]) >= 0 && HexValue(raw[i + 2]) >= 0) {
        out += static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2]));
        i += 2;
      } else {
        out += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace ferry::gateway
