// Who may use the gateway and for what: the Origin check, bearer tokens and
// the grants of each client (topic patterns, as a component's grants).
// Pure logic over config::GatewayConfig; thread-safe (immutable).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "ferry/result.h"

namespace ferry::gateway {

// What the opening handshake carried.
struct Handshake {
  std::optional<std::string> origin;  // the Origin header, if sent
  std::string host;                   // the Host header
  std::optional<std::string> token;   // Authorization: Bearer, or ?access_token=
  bool tls = false;                   // the connection is TLS (https/wss origin)
};

// The grants a connection was given, and who it is for logs.
struct Principal {
  config::GatewayGrants grants;
  std::string who;  // "gateway.token[0]", "origin https://x" or "anonymous"
};

class AccessPolicy {
 public:
  explicit AccessPolicy(config::GatewayConfig config) : config_(std::move(config)) {}

  // PermissionDenied (the Origin is not allowed: HTTP 403) or
  // FailedPrecondition (no or an unknown token: HTTP 401), with a one-line
  // reason; otherwise what the connection may do.
  Result<Principal> Admit(const Handshake& handshake) const;

  // Checks one operation against `grants`; PermissionDenied names the grant.
  static Status MayPublish(const config::GatewayGrants& grants, std::string_view topic);
  static Status MaySubscribe(const config::GatewayGrants& grants, std::string_view pattern);
  static Status MayRequest(const config::GatewayGrants& grants, std::string_view topic);

 private:
  bool OriginAllowed(const Handshake& handshake) const;

  const config::GatewayConfig config_;
};

// The value of `name` in a request target's query ("/?access_token=x"),
// percent-decoded; nullopt when absent.
std::optional<std::string> QueryParameter(std::string_view target, std::string_view name);

}  // namespace ferry::gateway
