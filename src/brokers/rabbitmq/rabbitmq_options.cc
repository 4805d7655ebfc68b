// `[brokers]` entries for amqp:// and amqps:// into RabbitMqOptions.
#include <charconv>
#include <cstdlib>

#include "brokers/publish_window.h"
#include "brokers/secret_file.h"
#include "brokers/rabbitmq/rabbitmq_broker.h"

namespace ferry {
namespace {

Result<int> Int(const std::string& key, const std::string& value) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 0)
    return Error::InvalidArgument(key + ": expected a whole number, got '" + value + "'");
  return n;
}

Result<bool> Bool(const std::string& key, const std::string& value) {
  if (value == "true") return true;
  if (value == "false") return false;
  return Error::InvalidArgument(key + ": expected true or false, got '" + value + "'");
}

// %XX escapes, as AMQP URIs use them in the user, password and vhost.
Result<std::string> Unescape(std::string_view s, const char* what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int v = 0;
    if (i + 2 >= s.size())
      return Error::InvalidArgument(std::string("bad %-escape in the amqp URL's ") + what);
    auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || end != s.data() + i + 3)
      return Error::InvalidArgument(std::string("bad %-escape in the amqp URL's ") + what);
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

}  // namespace

Result<RabbitMqOptions> RabbitMqOptionsFrom(std::string_view url,
                                            const std::map<std::string, std::string>& settings) {
  RabbitMqOptions o;
  std::string_view rest = url;
  if (rest.starts_with("amqps://")) {
    o.tls = true;
    o.port = 5671;
    rest.remove_prefix(8);
  } else if (rest.starts_with("amqp://")) {
    rest.remove_prefix(7);
  } else {
    return Error::InvalidArgument("expected amqp:// or amqps://, got '" + std::string(url) + "'");
  }
  if (const auto q = rest.find('?'); q != std::string_view::npos)
    return Error::InvalidArgument("amqp URL query parameters are not supported; use settings: '" +
                                  std::string(url) + "'");
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  bool user_in_url = false;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    const auto colon = cred.find(':');
    auto user = Unescape(cred.substr(0, colon), "user");
    if (!user.ok()) return user.error();
    o.user = *user;
    o.password.clear();
    if (colon != std::string_view::npos) {
      auto pass = Unescape(cred.substr(colon + 1), "password");
      if (!pass.ok()) return pass.error();
      o.password = *pass;
    }
    user_in_url = true;
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    auto port = Int("port", std::string(rest.substr(colon + 1)));
    if (!port.ok() || *port == 0 || *port > 65535)
      return Error::InvalidArgument("bad port in amqp URL: '" +
                                    std::string(rest.substr(colon + 1)) + "'");
    o.port = *port;
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) o.host = std::string(rest);
  if (!path.empty()) {
    auto vhost = Unescape(path, "vhost");
    if (!vhost.ok()) return vhost.error();
    if (vhost->find('/') != std::string::npos && *vhost != "/")
      return Error::InvalidArgument("the amqp URL's vhost '" + std::string(path) +
                                    "' has a '/': write it as %2F");
    o.vhost = *vhost;
  }
  bool user_set = user_in_url, password_set = user_in_url;
  for (const auto& [key, value] : settings) {
    if (key == "user") {
      o.user = value;
      user_set = true;
    } else if (key == "password") {
      o.password = value;
      password_set = true;
    } else if (key == "password_file") {
      auto secret = ReadSecretFile(key, value);
      if (!secret.ok()) return secret.error();
      o.password = *secret;
      password_set = true;
    } else if (key == "exchange") {
      o.exchange = value;  // "" is the default exchange: topics are queue names
    } else if (key == "dead_letter_exchange") {
      o.dead_letter_exchange = value;
    } else if (key == "tls_ca") {
      o.tls_ca_file = value;
    } else if (key == "tls_cert") {
      o.tls_cert_file = value;
    } else if (key == "tls_key") {
      o.tls_key_file = value;
    } else if (key == "tls_verify" || key == "persistent") {
      auto b = Bool(key, value);
      if (!b.ok()) return b.error();
      (key == "tls_verify" ? o.tls_verify : o.persistent) = *b;
    } else if (key == "max_unconfirmed") {
      auto n = ParseMaxUnconfirmed(value);
      if (!n.ok()) return n.error();
      o.max_unconfirmed = *n;
    } else if (key == "heartbeat_s" || key == "connect_timeout_ms" || key == "reconnect_wait_ms" ||
               key == "max_reconnect_wait_ms") {
      auto n = Int(key, value);
      if (!n.ok()) return n.error();
      if (key == "heartbeat_s") o.heartbeat_s = *n;
      else if (key == "connect_timeout_ms") o.connect_timeout = std::chrono::milliseconds(std::max(*n, 100));
      else if (key == "reconnect_wait_ms") o.reconnect_wait = std::chrono::milliseconds(std::max(*n, 10));
      else o.max_reconnect_wait = std::chrono::milliseconds(std::max(*n, 10));
    } else {
      return Error::InvalidArgument(
          "unknown option '" + key +
          "' for an amqp broker (known: user, password, password_file, exchange, dead_letter_exchange, "
          "persistent, heartbeat_s, connect_timeout_ms, reconnect_wait_ms, "
          "max_reconnect_wait_ms, tls_ca, tls_cert, tls_key, tls_verify, max_unconfirmed)");
    }
  }
  if (!o.tls && (!o.tls_ca_file.empty() || !o.tls_cert_file.empty() || !o.tls_key_file.empty()))
    return Error::InvalidArgument("tls_ca, tls_cert and tls_key need an amqps:// URL");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return Error::InvalidArgument("tls_cert and tls_key go together");
  if (o.max_reconnect_wait < o.reconnect_wait) o.max_reconnect_wait = o.reconnect_wait;
  auto env = [](const char* name, bool set, std::string& into) {
    if (const char* v = std::getenv(name); !set && v && *v) into = v;
  };
  env("FERRY_AMQP_USER", user_set, o.user);
  env("FERRY_AMQP_PASSWORD", password_set, o.password);
  return o;
}

}  // namespace ferry
