// `[brokers]` entries for kafka:// into KafkaOptions.
#include <charconv>
#include <cstdlib>

#include "brokers/kafka/kafka_broker.h"
#include "brokers/publish_window.h"
#include "brokers/secret_file.h"

namespace ferry {
namespace {

Result<int> Int(const std::string& key, std::string_view value) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 0)
    return Error::InvalidArgument(key + ": expected a whole number, got '" + std::string(value) + "'");
  return n;
}

constexpr std::string_view kKnown =
    "user, password, password_file, sasl_mechanism, tls, tls_ca, tls_cert, tls_key, client_id, connect_timeout_ms, delivery_timeout_ms, "
    "session_timeout_ms, metadata_refresh_ms, revoke_wait_ms, max_unconfirmed, rdkafka.<property>";

}  // namespace

std::string KafkaOptions::Bootstrap() const {
  std::string out;
  for (const std::string& b : bootstrap) out += (out.empty() ? "" : ",") + b;
  return out;
}

Result<KafkaOptions> KafkaOptionsFrom(std::string_view url,
                                      const std::map<std::string, std::string>& settings) {
  KafkaOptions o;
  std::string_view rest = url;
  if (!rest.starts_with("kafka://"))
    return Error::InvalidArgument("expected kafka://host:port, got '" + std::string(url) + "'");
  rest.remove_prefix(8);
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (slash + 1 != rest.size())
      return Error::InvalidArgument("a kafka URL has no path: '" + std::string(rest.substr(slash)) + "'");
    rest = rest.substr(0, slash);
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    const auto colon = cred.find(':');
    o.user = std::string(cred.substr(0, colon));
    if (colon != std::string_view::npos) o.password = std::string(cred.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  o.bootstrap.clear();
  while (true) {
    const auto comma = rest.find(',');
    std::string_view server = rest.substr(0, comma);
    if (server.empty()) return Error::InvalidArgument("kafka URL names an empty server");
    std::string_view host = server;
    int port = 9092;
    if (const auto colon = server.rfind(':'); colon != std::string_view::npos) {
      auto p = Int("port", server.substr(colon + 1));
      if (!p.ok() || *p == 0 || *p > 65535)
        return Error::InvalidArgument("bad port in kafka URL: '" +
                                      std::string(server.substr(colon + 1)) + "'");
      port = *p;
      host = server.substr(0, colon);
    }
    if (host.empty() || host.find_first_of(" \t") != std::string_view::npos)
      return Error::InvalidArgument("bad host in kafka URL: '" + std::string(host) + "'");
    o.bootstrap.push_back(std::string(host) + ":" + std::to_string(port));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  for (const auto& [key, value] : settings) {
    if (key == "user") {
      o.user = value;
    } else if (key == "password") {
      o.password = value;
    } else if (key == "password_file") {
      auto secret = ReadSecretFile(key, value);
      if (!secret.ok()) return secret.error();
      o.password = *secret;
    } else if (key == "tls") {
      if (value != "true" && value != "false")
        return Error::InvalidArgument("tls: expected true or false, got '" + value + "'");
      o.tls = value == "true";
    } else if (key == "tls_ca" || key == "tls_cert" || key == "tls_key") {
      (key == "tls_ca" ? o.tls_ca_file : key == "tls_cert" ? o.tls_cert_file : o.tls_key_file) = value;
    } else if (key == "sasl_mechanism") {
      if (value != "PLAIN" && value != "SCRAM-SHA-256" && value != "SCRAM-SHA-512")
        return Error::InvalidArgument("sasl_mechanism: expected PLAIN, SCRAM-SHA-256 or "
                                      "SCRAM-SHA-512, got '" + value + "'");
      o.sasl_mechanism = value;
    } else if (key == "client_id") {
      if (value.empty()) return Error::InvalidArgument("client_id: must not be empty");
      o.client_id = value;
    } else if (key == "max_unconfirmed") {
      auto n = ParseMaxUnconfirmed(value);
      if (!n.ok()) return n.error();
      o.max_unconfirmed = *n;
    } else if (key.starts_with("rdkafka.") && key.size() > 8) {
      o.rdkafka[key.substr(8)] = value;
    } else if (key == "connect_timeout_ms" || key == "delivery_timeout_ms" ||
               key == "session_timeout_ms" || key == "metadata_refresh_ms" ||
               key == "revoke_wait_ms") {
      auto n = Int(key, value);
      if (!n.ok()) return n.error();
      const std::chrono::milliseconds ms(*n);
      if (key == "connect_timeout_ms") o.connect_timeout = std::max(ms, std::chrono::milliseconds(100));
      else if (key == "delivery_timeout_ms") o.delivery_timeout = std::max(ms, std::chrono::milliseconds(1000));
      else if (key == "session_timeout_ms") o.session_timeout = std::max(ms, std::chrono::milliseconds(1000));
      else if (key == "metadata_refresh_ms") o.metadata_refresh = std::max(ms, std::chrono::milliseconds(100));
      else o.revoke_wait = ms;
    } else {
      return Error::InvalidArgument("unknown option '" + key + "' for a kafka broker (known: " +
                                    std::string(kKnown) + ")");
    }
  }
  if (!o.tls_ca_file.empty() || !o.tls_cert_file.empty()) o.tls = true;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return Error::InvalidArgument("tls_cert and tls_key go together");
  auto env = [](const char* name, std::string& into) {
    if (const char* v = std::getenv(name); into.empty() && v && *v) into = v;
  };
  env("FERRY_KAFKA_USER", o.user);
  env("FERRY_KAFKA_PASSWORD", o.password);
  return o;
}

}  // namespace ferry
