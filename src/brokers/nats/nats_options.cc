// The NATS adapter's settings: a [brokers] entry into NatsOptions, the
// URL shown in logs, and the reconnect backoff.
#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "brokers/nats/nats_broker.h"
#include "brokers/publish_window.h"
#include "brokers/secret_file.h"
#include "core/topic.h"

namespace ferry {
namespace {

Result<std::chrono::milliseconds> Millis(const std::string& key, const std::string& value) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size())
    return Error::InvalidArgument(key + ": expected milliseconds, got '" + value + "'");
  return std::chrono::milliseconds(n);
}

}  // namespace

std::string NatsDisplayUrl(std::string_view urls) {
  std::string out;
  std::size_t start = 0;
  while (start <= urls.size()) {
    std::size_t comma = urls.find(',', start);
    std::string one(urls.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                         : comma - start));
    const auto scheme = one.find("://");
    const auto at = one.find('@');
    if (scheme != std::string::npos && at != std::string::npos && at > scheme)
      one = one.substr(0, scheme + 3) + one.substr(at + 1);
    out += (out.empty() ? "" : ",") + one;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}



Result<NatsOptions> NatsOptionsFrom(std::string_view url,
                                    const std::map<std::string, std::string>& settings) {
  NatsOptions o;
  o.url = std::string(url);
  if (url.starts_with("tls://")) o.tls = true;
  for (const auto& [key, value] : settings) {
    if (key == "user") o.user = value;
    else if (key == "password") o.password = value;
    else if (key == "token") o.token = value;
    else if (key == "password_file" || key == "token_file") {
      auto secret = ReadSecretFile(key, value);
      if (!secret.ok()) return secret.error();
      (key == "password_file" ? o.password : o.token) = *secret;
    }
    else if (key == "creds") o.creds_file = value;
    else if (key == "tls") o.tls = value == "true";
    else if (key == "tls_ca") o.tls_ca_file = value;
    else if (key == "tls_cert") o.tls_cert_file = value;
    else if (key == "tls_key") o.tls_key_file = value;
    else if (key == "name") o.client_name = value;
    else if (key == "jetstream") {
      o.jetstream_subjects.clear();
      std::size_t start = 0;
      while (start <= value.size()) {
        std::size_t comma = value.find(',', start);
        std::string p = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        p.erase(0, p.find_first_not_of(' '));
        p.erase(p.find_last_not_of(' ') + 1);
        if (p == "true") p = ">";
        if (!p.empty() && p != "false") {
          Status valid = ValidatePattern(p);
          if (!valid.ok()) return valid.error().WithContext("jetstream");
          o.jetstream_subjects.push_back(p);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    else if (key == "max_unconfirmed") {
      auto n = ParseMaxUnconfirmed(value);
      if (!n.ok()) return n.error();
      o.max_unconfirmed = *n;
    }
    else if (key == "connect_timeout_ms") {
      auto ms = Millis(key, value);
      if (!ms.ok()) return ms.error();
      o.connect_timeout = *ms;
    } else if (key == "reconnect_wait_ms") {
      auto ms = Millis(key, value);
      if (!ms.ok()) return ms.error();
      o.reconnect_wait = *ms;
    } else if (key == "max_reconnect_wait_ms") {
      auto ms = Millis(key, value);
      if (!ms.ok()) return ms.error();
      o.max_reconnect_wait = *ms;
    } else {
      return Error::InvalidArgument("unknown option '" + key + "' for " + NatsDisplayUrl(url) +
                                    " (known: user, password, password_file, token, token_file, creds, tls, tls_ca, "
                                    "tls_cert, tls_key, name, connect_timeout_ms, reconnect_wait_ms, "
                                    "max_reconnect_wait_ms, jetstream, max_unconfirmed)");
    }
  }
  auto env = [](const char* name, std::string& into) {
    if (const char* v = std::getenv(name); into.empty() && v && *v) into = v;
  };
  env("FERRY_NATS_USER", o.user);
  env("FERRY_NATS_PASSWORD", o.password);
  env("FERRY_NATS_TOKEN", o.token);
  if (o.max_reconnect_wait < o.reconnect_wait) o.max_reconnect_wait = o.reconnect_wait;
  return o;
}

std::chrono::milliseconds NatsReconnectDelay(std::chrono::milliseconds first,
                                             std::chrono::milliseconds max, int attempts) {
  // attempts counts passes over the server list: 1 after the first failed pass.
  const int doublings = std::clamp(attempts - 1, 0, 20);
  const auto wait = std::chrono::milliseconds(first.count() << doublings);
  return std::min(wait, std::max(first, max));
}

}  // namespace ferry
