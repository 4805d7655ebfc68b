// redis:// URLs and the settings of a Redis broker (docs/brokers/redis.md).
#include <charconv>
#include <cstdlib>

#include "brokers/publish_window.h"
#include "brokers/redis/redis_broker.h"
#include "brokers/secret_file.h"

namespace ferry {
namespace {

Result<std::uint64_t> Number(const std::string& key, const std::string& value) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size())
    return Error::InvalidArgument(key + ": expected a whole number, got '" + value + "'");
  return n;
}

}  // namespace

Result<RedisOptions> RedisOptionsFrom(std::string_view url,
                                      const std::map<std::string, std::string>& settings) {
  RedisOptions o;
  if (url.starts_with("rediss://"))
    return Error::Unsupported("rediss:// (TLS) needs hiredis 1.0 or later; Debian 12's hiredis "
                              "0.14 has no TLS. Use redis:// to a local TLS tunnel (stunnel), "
                              "see docs/brokers/redis.md");
  if (!url.starts_with("redis://")) return Error::InvalidArgument("expected a redis:// URL");
  std::string_view rest = url.substr(8);
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    auto db = Number("database", std::string(rest.substr(slash + 1)));
    if (!db.ok()) return db.error();
    o.endpoint.db = static_cast<int>(*db);
    rest = rest.substr(0, slash);
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    const auto colon = cred.find(':');
    if (colon == std::string_view::npos) {
      o.endpoint.password = std::string(cred);
    } else {
      o.endpoint.user = std::string(cred.substr(0, colon));
      o.endpoint.password = std::string(cred.substr(colon + 1));
    }
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    auto port = Number("port", std::string(rest.substr(colon + 1)));
    if (!port.ok() || *port == 0 || *port > 65535)
      return Error::InvalidArgument("bad port in redis URL: '" + std::string(rest.substr(colon + 1)) + "'");
    o.endpoint.port = static_cast<int>(*port);
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) o.endpoint.host = std::string(rest);
  for (const auto& [key, value] : settings) {
    if (key == "publish") {
      if (value != "pubsub" && value != "streams")
        return Error::InvalidArgument("publish: expected \"pubsub\" or \"streams\", got '" + value + "'");
      o.publish_streams = value == "streams";
    } else if (key == "dead_letter_suffix") {
      o.dead_letter_suffix = value;
    } else if (key == "user") {
      o.endpoint.user = value;
    } else if (key == "password") {
      o.endpoint.password = value;
    } else if (key == "password_file") {
      auto secret = ReadSecretFile(key, value);
      if (!secret.ok()) return secret.error();
      o.endpoint.password = *secret;
    } else if (key == "max_unconfirmed") {
      auto n = ParseMaxUnconfirmed(value);
      if (!n.ok()) return n.error();
      o.max_unconfirmed = *n;
    } else if (key == "max_len" || key == "claim_idle_ms" || key == "connect_timeout_ms" ||
               key == "command_timeout_ms") {
      auto n = Number(key, value);
      if (!n.ok()) return n.error();
      if ((key == "connect_timeout_ms" || key == "command_timeout_ms") && *n == 0)
        return Error::InvalidArgument(key + ": expected a positive number of milliseconds");
      if (key == "max_len") o.max_len = *n;
      else if (key == "claim_idle_ms") o.claim_idle = std::chrono::milliseconds(*n);
      else if (key == "command_timeout_ms") o.command_timeout = std::chrono::milliseconds(*n);
      else o.endpoint.connect_timeout = std::chrono::milliseconds(*n);
    } else {
      return Error::InvalidArgument("unknown option '" + key +
                                    "' for a redis broker (known: publish, dead_letter_suffix, "
                                    "max_len, claim_idle_ms, connect_timeout_ms, "
                                    "command_timeout_ms, user, password, password_file, "
                                    "max_unconfirmed)");
    }
  }
  if (const char* v = std::getenv("FERRY_REDIS_PASSWORD"); o.endpoint.password.empty() && v && *v)
    o.endpoint.password = v;
  return o;
}

}  // namespace ferry
