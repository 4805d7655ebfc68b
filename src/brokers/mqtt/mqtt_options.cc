// `[brokers]` entries for mqtt:// and mqtts:// into MqttOptions.
#include <charconv>
#include <cstdlib>

#include "brokers/mqtt/mqtt_broker.h"
#include "brokers/publish_window.h"
#include "brokers/secret_file.h"

namespace ferry {
namespace {

Result<int> Int(const std::string& key, const std::string& value) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 0)
    return Error::InvalidArgument(key + ": expected a whole number, got '" + value + "'");
  return n;
}

}  // namespace

Result<MqttOptions> MqttOptionsFrom(std::string_view url,
                                    const std::map<std::string, std::string>& settings) {
  MqttOptions o;
  std::string_view rest = url;
  if (rest.starts_with("mqtts://")) {
    o.tls = true;
    o.port = 8883;
    rest.remove_prefix(8);
  } else if (rest.starts_with("mqtt://")) {
    rest.remove_prefix(7);
  } else {
    return Error::InvalidArgument("expected mqtt:// or mqtts://, got a different scheme");
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    const auto colon = cred.find(':');
    o.user = std::string(cred.substr(0, colon));
    if (colon != std::string_view::npos) o.password = std::string(cred.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    auto port = Int("port", std::string(rest.substr(colon + 1)));
    if (!port.ok() || *port == 0 || *port > 65535)
      return Error::InvalidArgument("bad port in mqtt URL: '" + std::string(rest.substr(colon + 1)) + "'");
    o.port = *port;
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) o.host = std::string(rest);
  for (const auto& [key, value] : settings) {
    if (key == "client_id") {
      if (value.empty() || value.size() > 200)
        return Error::InvalidArgument("client_id: expected 1 to 200 characters");
      o.client_id = value;
    } else if (key == "user") {
      o.user = value;
    } else if (key == "password") {
      o.password = value;
    } else if (key == "password_file") {
      auto secret = ReadSecretFile(key, value);
      if (!secret.ok()) return secret.error();
      o.password = *secret;
    } else if (key == "tls_ca") {
      o.tls_ca_file = value;
    } else if (key == "tls_cert") {
      o.tls_cert_file = value;
    } else if (key == "tls_key") {
      o.tls_key_file = value;
    } else if (key == "max_unconfirmed") {
      auto n = ParseMaxUnconfirmed(value);
      if (!n.ok()) return n.error();
      o.max_unconfirmed = *n;
    } else if (key == "session_expiry_s" || key == "keepalive_s" || key == "qos" ||
               key == "connect_timeout_ms" || key == "resume_window_ms") {
      auto n = Int(key, value);
      if (!n.ok()) return n.error();
      if (key == "session_expiry_s") o.session_expiry_s = static_cast<std::uint32_t>(*n);
      else if (key == "keepalive_s") o.keepalive_s = std::max(*n, 5);
      else if (key == "connect_timeout_ms") o.connect_timeout = std::chrono::milliseconds(std::max(*n, 100));
      else if (key == "resume_window_ms") o.resume_window = std::chrono::milliseconds(*n);
      else if (*n > 2) return Error::InvalidArgument("qos: expected 0, 1 or 2, got '" + value + "'");
      else o.publish_qos = *n;
    } else {
      return Error::InvalidArgument("unknown option '" + key +
                                    "' for an mqtt broker (known: client_id, user, password, "
                                    "password_file, session_expiry_s, keepalive_s, qos, tls_ca, tls_cert, "
                                    "tls_key, connect_timeout_ms, resume_window_ms, max_unconfirmed)");
    }
  }
  if (!o.tls && (!o.tls_ca_file.empty() || !o.tls_cert_file.empty() || !o.tls_key_file.empty()))
    return Error::InvalidArgument("tls_ca, tls_cert and tls_key need an mqtts:// URL");
  auto env = [](const char* name, std::string& into) {
    if (const char* v = std::getenv(name); into.empty() && v && *v) into = v;
  };
  env("FERRY_MQTT_USER", o.user);
  env("FERRY_MQTT_PASSWORD", o.password);
  return o;
}

}  // namespace ferry
