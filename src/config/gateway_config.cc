#include "config/gateway_config.h"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

#include "core/listen_address.h"
#include "core/topic.h"

namespace ferry::config {
namespace {

class SectionReader {
 public:
  explicit SectionReader(std::string file) : file_(std::move(file)) {}

  Error Fail(const toml::node* node, const std::string& key, const std::string& what) const {
    std::string where = file_;
    if (node && node->source().begin.line > 0)
      where += ":" + std::to_string(node->source().begin.line);
    return Error::InvalidArgument(where + ": " + key + ": " + what);
  }

  Status Keys(const toml::table& t, const std::string& prefix,
              std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, node] : t) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      std::string names;
      for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      return Fail(&node, prefix + std::string(key.str()), "unknown key (allowed: " + names + ")");
    }
    return Status::Ok();
  }

  Result<std::string> String(const toml::table& t, std::string_view key, const std::string& path) const {
    const toml::node* node = t.get(key);
    if (!node) return std::string();
    if (!node->is_string() || node->value<std::string>()->empty())
      return Fail(node, path, "expected a non-empty string");
    return *node->value<std::string>();
  }

  Result<std::uint64_t> Integer(const toml::table& t, std::string_view key, const std::string& path,
                                std::uint64_t fallback, std::uint64_t min, std::uint64_t max) const {
    const toml::node* node = t.get(key);
    if (!node) return fallback;
    const auto v = node->value<std::int64_t>();
    if (!node->is_integer() || *v < static_cast<std::int64_t>(min) ||
        static_cast<std::uint64_t>(*v) > max)
      return Fail(node, path, "expected an integer from " + std::to_string(min) + " to " +
                                  std::to_string(max));
    return static_cast<std::uint64_t>(*v);
  }

  Result<std::vector<std::string>> Strings(const toml::table& t, std::string_view key,
                                           const std::string& path) const {
    std::vector<std::string> out;
    const toml::node* node = t.get(key);
    if (!node) return out;
    const toml::array* array = node->as_array();
    if (!array) return Fail(node, path, "expected an array of strings");
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& item = *array->get(i);
      if (!item.is_string() || item.value<std::string>()->empty())
        return Fail(&item, path + "[" + std::to_string(i) + "]", "expected a non-empty string");
      out.push_back(*item.value<std::string>());
    }
    return out;
  }

  // allow_publish, allow_subscribe, allow_request of `t`.
  Result<GatewayGrants> Grants(const toml::table& t, const std::string& prefix) const {
    GatewayGrants g;
    for (auto [key, into] : {std::pair{"allow_publish", &g.allow_publish},
                             std::pair{"allow_subscribe", &g.allow_subscribe},
                             std::pair{"allow_request", &g.allow_request}}) {
      auto patterns = Strings(t, key, prefix + key);
      if (!patterns.ok()) return patterns.error();
      for (std::size_t k = 0; k < patterns->size(); ++k) {
        Status valid = ValidatePattern((*patterns)[k]);
        if (!valid.ok())
          return Fail(t.get(key)->as_array()->get(k), prefix + key + "[" + std::to_string(k) + "]",
                      valid.error().message());
      }
      *into = std::move(patterns).value();
    }
    return g;
  }

 private:
  std::string file_;
};

// "host:port" with a port from 1 to 65535; the host a name, an IPv4
// address or a bracketed IPv6 address.
bool ValidListenAddress(std::string_view s) {
  auto parsed = ParseListenAddress(s);
  return parsed.ok() && parsed->second >= 1;
}

// An Origin as browsers send it: scheme://host[:port], nothing after.
bool ValidOrigin(std::string_view s) {
  if (s == "*") return true;
  const std::size_t scheme = s.find("://");
  if (scheme == std::string_view::npos || scheme == 0) return false;
  const std::string_view rest = s.substr(scheme + 3);
  return !rest.empty() && rest.find('/') == std::string_view::npos;
}

// The gateway's numeric settings and their bounds, for the parser and for
// a configuration built in code alike.
struct GatewayLimit {
  const char* key;
  std::uint64_t min, max;
  std::uint64_t (*get)(const GatewayConfig&);
  void (*set)(GatewayConfig&, std::uint64_t);
};

template <typename T, T GatewayConfig::*field>
constexpr GatewayLimit Limit(const char* key, std::uint64_t min, std::uint64_t max) {
  return {key, min, max, [](const GatewayConfig& g) -> std::uint64_t { return g.*field; },
          [](GatewayConfig& g, std::uint64_t v) { g.*field = static_cast<T>(v); }};
}

constexpr GatewayLimit kGatewayLimits[] = {
    Limit<std::uint32_t, &GatewayConfig::max_connections>("max_connections", 1, 1u << 20),
    Limit<std::uint64_t, &GatewayConfig::max_message_bytes>("max_message_bytes", 64, 1ull << 30),
    Limit<std::uint64_t, &GatewayConfig::send_buffer_bytes>("send_buffer_bytes", 1024, 1ull << 32),
    Limit<std::uint32_t, &GatewayConfig::max_subscriptions>("max_subscriptions", 1, 1u << 16),
    Limit<std::uint32_t, &GatewayConfig::max_requests>("max_requests", 1, 1u << 12),
    Limit<std::uint32_t, &GatewayConfig::publish_timeout_ms>("publish_timeout_ms", 1, 600000),
    Limit<std::uint32_t, &GatewayConfig::max_request_ms>("max_request_ms", 1, 3600000),
    Limit<std::uint32_t, &GatewayConfig::threads>("threads", 1, 64),
};

}  // namespace

Status ParseGateway(const toml::table& root, const std::string& file,
                    const std::filesystem::path& base_dir, Config& config) {
  const toml::node* node = root.get("gateway");
  if (!node) return Status::Ok();
  SectionReader r(file);
  const toml::table* t = node->as_table();
  if (!t) return r.Fail(node, "gateway", "expected a table");
  FERRY_RETURN_IF_ERROR(r.Keys(
      *t, "gateway.",
      {"websocket", "broker", "allowed_origins", "origin", "token", "require_token",
       "allow_publish", "allow_subscribe", "allow_request", "static", "tls_cert", "tls_key",
       "max_connections", "max_message_bytes", "send_buffer_bytes", "max_subscriptions",
       "max_requests", "publish_timeout_ms", "max_request_ms", "threads"}));
  GatewayConfig g;
  auto ws = r.String(*t, "websocket", "gateway.websocket");
  if (!ws.ok()) return ws.error();
  if (ws->empty()) return r.Fail(t, "gateway.websocket", "missing (\"host:port\" to listen on)");
  if (!ValidListenAddress(*ws))
    return r.Fail(t->get("websocket"), "gateway.websocket",
                  "expected \"host:port\" with a port from 1 to 65535, got \"" + *ws + "\"");
  g.websocket = *ws;
  auto broker = r.String(*t, "broker", "gateway.broker");
  if (!broker.ok()) return broker.error();
  if (!broker->empty()) g.broker = *broker;
  if (!config.FindBroker(g.broker))
    return r.Fail(t->get("broker"), "gateway.broker", "no broker named \"" + g.broker + "\" in [brokers]");

  auto origins = r.Strings(*t, "allowed_origins", "gateway.allowed_origins");
  if (!origins.ok()) return origins.error();
  for (std::size_t i = 0; i < origins->size(); ++i)
    if (!ValidOrigin((*origins)[i]))
      return r.Fail(t->get("allowed_origins")->as_array()->get(i),
                    "gateway.allowed_origins[" + std::to_string(i) + "]",
                    "expected \"*\" or an origin like \"https://app.example:8443\"");
  g.allowed_origins = std::move(origins).value();

  auto grants = r.Grants(*t, "gateway.");
  if (!grants.ok()) return grants.error();
  g.grants = std::move(grants).value();

  for (auto [key, is_token] : {std::pair{"origin", false}, std::pair{"token", true}}) {
    const toml::node* list = t->get(key);
    if (!list) continue;
    const toml::array* array = list->as_array();
    if (!array) return r.Fail(list, std::string("gateway.") + key, std::string("expected [[gateway.") + key + "]] tables");
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string prefix = std::string("gateway.") + key + "[" + std::to_string(i) + "]";
      const toml::table* item = array->get(i)->as_table();
      if (!item) return r.Fail(array->get(i), prefix, "expected a table");
      auto item_grants = r.Grants(*item, prefix + ".");
      if (!item_grants.ok()) return item_grants.error();
      if (!is_token) {
        FERRY_RETURN_IF_ERROR(r.Keys(*item, prefix + ".",
                                     {"origin", "allow_publish", "allow_subscribe", "allow_request"}));
        auto origin = r.String(*item, "origin", prefix + ".origin");
        if (!origin.ok()) return origin.error();
        if (origin->empty() || *origin == "*" || !ValidOrigin(*origin))
          return r.Fail(item, prefix + ".origin", "expected an origin like \"https://app.example:8443\"");
        g.origins.push_back({*origin, std::move(item_grants).value()});
        continue;
      }
      FERRY_RETURN_IF_ERROR(r.Keys(*item, prefix + ".",
                                   {"token", "token_env", "allow_publish", "allow_subscribe", "allow_request"}));
      auto secret = r.String(*item, "token", prefix + ".token");
      if (!secret.ok()) return secret.error();
      auto env = r.String(*item, "token_env", prefix + ".token_env");
      if (!env.ok()) return env.error();
      if (secret->empty() == env->empty())
        return r.Fail(item, prefix, "set exactly one of token and token_env");
      if (!env->empty()) {
        const char* value = std::getenv(env->c_str());
        if (!value || !*value)
          return r.Fail(item->get("token_env"), prefix + ".token_env",
                        "the environment variable " + *env + " is not set");
        *secret = value;
      }
      if (secret->size() < 16)
        return r.Fail(item, prefix, "a token must be at least 16 characters long");
      g.tokens.push_back({*secret, prefix, std::move(item_grants).value()});
    }
  }
  if (const toml::node* req = t->get("require_token")) {
    if (!req->is_boolean()) return r.Fail(req, "gateway.require_token", "expected true or false");
    g.require_token = *req->value<bool>();
  } else {
    g.require_token = !g.tokens.empty();
  }
  if (g.require_token && g.tokens.empty())
    return r.Fail(t->get("require_token"), "gateway.require_token", "no [[gateway.token]] is configured");

  auto dir = r.String(*t, "static", "gateway.static");
  if (!dir.ok()) return dir.error();
  if (!dir->empty()) {
    std::error_code ec;
    g.static_dir = std::filesystem::weakly_canonical(base_dir / *dir, ec);
    if (ec || !std::filesystem::is_directory(g.static_dir, ec))
      return r.Fail(t->get("static"), "gateway.static", "no such folder: " + (base_dir / *dir).string());
  }
  for (auto [key, into] : {std::pair{"tls_cert", &g.tls_cert}, std::pair{"tls_key", &g.tls_key}}) {
    auto p = r.String(*t, key, std::string("gateway.") + key);
    if (!p.ok()) return p.error();
    if (p->empty()) continue;
    *into = base_dir / *p;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*into, ec))
      return r.Fail(t->get(key), std::string("gateway.") + key, "no such file: " + into->string());
  }
  if (g.tls_cert.empty() != g.tls_key.empty())
    return r.Fail(t, "gateway", "set both tls_cert and tls_key, or neither");

  for (const GatewayLimit& l : kGatewayLimits) {
    auto v = r.Integer(*t, l.key, std::string("gateway.") + l.key, l.get(g), l.min, l.max);
    if (!v.ok()) return v.error();
    l.set(g, *v);
  }
  config.gateway = std::move(g);
  return Status::Ok();
}

Status CheckGateway(const Config& config) {
  const GatewayConfig& g = config.gateway;
  if (g.websocket.empty()) return Status::Ok();  // off
  auto fail = [](const std::string& field, const std::string& why) {
    return Error::InvalidArgument("gateway." + field + ": " + why);
  };
  if (!ValidListenAddress(g.websocket))
    return fail("websocket", "expected \"host:port\" with a port from 1 to 65535, got \"" + g.websocket + "\"");
  if (!config.FindBroker(g.broker)) return fail("broker", "no broker named \"" + g.broker + "\" in the brokers");
  for (std::size_t i = 0; i < g.allowed_origins.size(); ++i)
    if (!ValidOrigin(g.allowed_origins[i]))
      return fail("allowed_origins[" + std::to_string(i) + "]",
                  "expected \"*\" or an origin like \"https://app.example:8443\"");
  auto check_grants = [&](const std::string& prefix, const GatewayGrants& grants) -> Status {
    for (auto [key, list] : {std::pair{"allow_publish", &grants.allow_publish},
                             std::pair{"allow_subscribe", &grants.allow_subscribe},
                             std::pair{"allow_request", &grants.allow_request}})
      for (std::size_t k = 0; k < list->size(); ++k) {
        Status valid = ValidatePattern((*list)[k]);
        if (!valid.ok()) return fail(prefix + key + "[" + std::to_string(k) + "]", valid.error().message());
      }
    return Status::Ok();
  };
  FERRY_RETURN_IF_ERROR(check_grants("", g.grants));
  for (std::size_t i = 0; i < g.origins.size(); ++i) {
    const std::string prefix = "origin[" + std::to_string(i) + "].";
    const std::string& origin = g.origins[i].origin;
    if (origin.empty() || origin == "*" || !ValidOrigin(origin))
      return fail(prefix + "origin", "expected an origin like \"https://app.example:8443\"");
    FERRY_RETURN_IF_ERROR(check_grants(prefix, g.origins[i].grants));
  }
  for (std::size_t i = 0; i < g.tokens.size(); ++i) {
    const std::string prefix = "token[" + std::to_string(i) + "]";
    if (g.tokens[i].token.size() < 16) return fail(prefix, "a token must be at least 16 characters long");
    FERRY_RETURN_IF_ERROR(check_grants(prefix + ".", g.tokens[i].grants));
  }
  if (g.require_token && g.tokens.empty()) return fail("require_token", "no token is configured");
  std::error_code ec;
  if (!g.static_dir.empty() && (!g.static_dir.is_absolute() || !std::filesystem::is_directory(g.static_dir, ec)))
    return fail("static", "expected the absolute path of a folder, got \"" + g.static_dir.string() + "\"");
  if (g.tls_cert.empty() != g.tls_key.empty())
    return Error::InvalidArgument("gateway: set both tls_cert and tls_key, or neither");
  for (auto [key, path] : {std::pair{"tls_cert", &g.tls_cert}, std::pair{"tls_key", &g.tls_key}})
    if (!path->empty() && !std::filesystem::is_regular_file(*path, ec))
      return fail(key, "no such file: " + path->string());
  for (const GatewayLimit& l : kGatewayLimits) {
    const std::uint64_t v = l.get(g);
    if (v < l.min || v > l.max)
      return fail(l.key, "expected " + std::to_string(l.min) + " to " + std::to_string(l.max) + ", got " +
                             std::to_string(v));
  }
  return Status::Ok();
}

}  // namespace ferry::config
