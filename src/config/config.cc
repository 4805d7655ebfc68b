#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "core/http_url.h"
#include "core/listen_address.h"
#include "config/gateway_config.h"
#include "core/topic.h"

namespace ferry::config {

// An allow_http pattern: "*", or HOST ":" PORT where PORT is 1-65535 or "*"
// and HOST is a name, an IPv4 address, a bracketed IPv6 address or
// "*." followed by a name. The engine parses the same rules
// (engine/src/http.rs); checking here gives the error a place in the file.
Status ValidateHttpGrant(std::string_view p) {
  const auto bad = [p](std::string_view why) {
    return Status(Error::InvalidArgument(
        "\"" + std::string(p) + "\" " + std::string(why) +
        "; expected \"*\", \"host:port\", \"host:*\" or \"*.domain:port\""));
  };
  if (p == "*") return Status::Ok();
  const std::size_t colon = p.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view host = p.substr(0, colon), port = p.substr(colon + 1);
  if (port != "*") {
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return bad("has a port that is neither a number nor *");
    const long n = std::stol(std::string(port));
    if (n < 1 || n > 65535) return bad("has a port outside 1-65535");
  }
  if (host.empty()) return bad("has no host");
  const bool wildcard = host.starts_with("*.");
  std::string_view name = wildcard ? host.substr(2) : host;
  bool valid;
  if (name.starts_with('[')) {
    valid = !wildcard && name.size() > 2 && name.ends_with(']') &&
            std::all_of(name.begin() + 1, name.end() - 1,
                        [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.'; });
  } else {
    valid = !name.empty() && !name.starts_with('.') && !name.ends_with('.') &&
            name.find("..") == std::string_view::npos &&
            std::all_of(name.begin(), name.end(), [](char ch) {
              return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_';
            });
  }
  if (!valid) return bad("has a host that is not a name, an address or *.domain");
  return Status::Ok();
}

namespace {

// Builds one-line errors that name the key and, when known, the line.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Error Fail(const toml::node* node, const std::string& key, const std::string& what) const {
    std::string where = file_;
    if (node && node->source().begin.line > 0)
      where += ":" + std::to_string(node->source().begin.line);
    return Error::InvalidArgument(where + ": " + key + ": " + what);
  }

  Status CheckKeys(const toml::table& table, const std::string& prefix,
                   std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, node] : table) {
      bool ok = false;
      for (auto a : allowed) ok = ok || key.str() == a;
      if (!ok)
        return Fail(&node, prefix + std::string(key.str()),
                    "unknown key (allowed: " + Join(allowed) + ")");
    }
    return Status::Ok();
  }

  Result<std::string> String(const toml::table& table, std::string_view key,
                             const std::string& path,
                             bool required = false) const {
    const toml::node* node = table.get(key);
    if (!node) {
      if (required) return Fail(&table, path, "missing");
      return std::string();
    }
    if (!node->is_string()) return Fail(node, path, "expected a string, got " + Show(*node));
    std::string value = *node->value<std::string>();
    if (value.empty()) return Fail(node, path, "must not be empty");
    return value;
  }

  Result<std::uint64_t> Positive(const toml::table& table, std::string_view key,
                                 const std::string& path, std::uint64_t fallback,
                                 std::uint64_t max) const {
    return Integer(table, key, path, fallback, 1, max);
  }

  Result<std::uint64_t> Integer(const toml::table& table, std::string_view key,
                                const std::string& path, std::uint64_t fallback,
                                std::uint64_t min, std::uint64_t max) const {
    const toml::node* node = table.get(key);
    if (!node) return fallback;
    if (!node->is_integer() || *node->value<std::int64_t>() < static_cast<std::int64_t>(min) ||
        static_cast<std::uint64_t>(*node->value<std::int64_t>()) > max)
      return Fail(node, path, "expected an integer from " + std::to_string(min) + " to " +
                                  std::to_string(max) + ", got " + Show(*node));
    return static_cast<std::uint64_t>(*node->value<std::int64_t>());
  }

  Result<bool> Bool(const toml::table& table, std::string_view key, const std::string& path,
                    bool fallback) const {
    const toml::node* node = table.get(key);
    if (!node) return fallback;
    if (!node->is_boolean()) return Fail(node, path, "expected true or false, got " + Show(*node));
    return *node->value<bool>();
  }

  Result<std::vector<std::string>> Strings(const toml::table& table, std::string_view key,
                                           const std::string& path) const {
    std::vector<std::string> out;
    const toml::node* node = table.get(key);
    if (!node) return out;
    const toml::array* array = node->as_array();
    if (!array) return Fail(node, path, "expected an array of strings, got " + Show(*node));
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& item = *array->get(i);
      if (!item.is_string() || item.value<std::string>()->empty())
        return Fail(&item, path + "[" + std::to_string(i) + "]",
                    "expected a non-empty string, got " + Show(item));
      out.push_back(*item.value<std::string>());
    }
    return out;
  }

  static std::string Show(const toml::node& node) {
    std::ostringstream out;
    if (node.is_string())
      out << Quote(*node.value<std::string>());
    else if (node.is_table())
      out << "a table";
    else if (node.is_array())
      out << "an array";
    else
      node.visit([&](auto&& v) { out << v; });
    return out.str();
  }

  // A string value as errors show it: quoted, on one line, not too long.
  static std::string Quote(std::string_view text) {
    constexpr std::size_t kMaxShown = 60;
    std::string out = "\"";
    for (char c : text.substr(0, kMaxShown)) {
      if (c == '\n')
        out += "\\n";
      else if (c == '"')
        out += "\\\"";
      else
        out += c;
    }
    return out + (text.size() > kMaxShown ? "...\"" : "\"");
  }

  static std::string Join(std::initializer_list<std::string_view> names) {
    std::string out;
    for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
    return out;
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

std::filesystem::path Resolve(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : std::filesystem::absolute(base / path).lexically_normal();
}

Status ParseHost(const Reader& r, const toml::table& root, const std::filesystem::path& base,
                 HostConfig& host) {
  const toml::node* node = root.get("host");
  if (!node) return Status::Ok();
  const toml::table* t = node->as_table();
  if (!t) return r.Fail(node, "host", "expected a table");
  FERRY_RETURN_IF_ERROR(r.CheckKeys(*t, "host.", {"log_level", "control_socket", "cache_dir",
                                                      "max_control_connections", "metrics",
                                                      "metrics_max_topics", "log_format", "tracing",
                                                      "otlp_endpoint", "cache_max_mb"}));
  auto level = r.String(*t, "log_level", "host.log_level");
  if (!level.ok()) return level.error();
  if (!level->empty()) {
    static const std::set<std::string> kLevels{"off", "error", "warn", "info", "debug", "trace"};
    if (!kLevels.count(*level))
      return r.Fail(t->get("log_level"), "host.log_level",
                    "expected off, error, warn, info, debug or trace, got " +
                        Reader::Quote(*level));
    host.log_level = *level;
  }
  auto socket = r.String(*t, "control_socket", "host.control_socket");
  if (!socket.ok()) return socket.error();
  if (!socket->empty()) host.control_socket = Resolve(base, *socket);
  auto cache = r.String(*t, "cache_dir", "host.cache_dir");
  if (!cache.ok()) return cache.error();
  if (!cache->empty()) host.cache_dir = Resolve(base, *cache);
  auto cache_mb = r.Integer(*t, "cache_max_mb", "host.cache_max_mb", host.cache_max_mb, 0, 1u << 24);
  if (!cache_mb.ok()) return cache_mb.error();
  host.cache_max_mb = *cache_mb;
  auto connections = r.Positive(*t, "max_control_connections", "host.max_control_connections",
                                host.max_control_connections, 4096);
  if (!connections.ok()) return connections.error();
  host.max_control_connections = static_cast<std::uint32_t>(*connections);
  auto metrics = r.String(*t, "metrics", "host.metrics");
  if (!metrics.ok()) return metrics.error();
  if (!metrics->empty()) {
    auto parsed = ParseListenAddress(*metrics);
    if (!parsed.ok()) return r.Fail(t->get("metrics"), "host.metrics", parsed.error().message());
    host.metrics = *metrics;
  }
  auto topics = r.Positive(*t, "metrics_max_topics", "host.metrics_max_topics", host.metrics_max_topics, 100000);
  if (!topics.ok()) return topics.error();
  host.metrics_max_topics = static_cast<std::uint32_t>(*topics);
  auto tracing = r.Bool(*t, "tracing", "host.tracing", false);
  if (!tracing.ok()) return tracing.error();
  host.tracing = *tracing;
  auto otlp = r.String(*t, "otlp_endpoint", "host.otlp_endpoint");
  if (!otlp.ok()) return otlp.error();
  if (!otlp->empty()) {
    auto url = ParseHttpUrl(*otlp);
    if (!url.ok()) return r.Fail(t->get("otlp_endpoint"), "host.otlp_endpoint", url.error().message());
    host.otlp_endpoint = *otlp;
  }
  auto format = r.String(*t, "log_format", "host.log_format");
  if (!format.ok()) return format.error();
  if (!format->empty()) {
    if (*format != "text" && *format != "json")
      return r.Fail(t->get("log_format"), "host.log_format",
                    "expected text or json, got " + Reader::Quote(*format));
    host.log_format = *format;
  }
  return Status::Ok();
}

Status ParseLimits(const Reader& r, const toml::table& root, Limits& limits) {
  const toml::node* node = root.get("limits");
  if (!node) return Status::Ok();
  const toml::table* t = node->as_table();
  if (!t) return r.Fail(node, "limits", "expected a table");
  FERRY_RETURN_IF_ERROR(r.CheckKeys(*t, "limits.",
                                    {"max_message_bytes", "max_metadata_bytes", "queue_depth",
                                     "max_request_ms", "handler_timeout_ms", "max_memory_bytes",
                                     "fuel_per_call", "max_in_flight", "max_guest_messages",
                                     "max_guest_message_bytes", "max_guest_clients",
                                     "max_guest_request_options"}));
  constexpr std::uint64_t kU32 = 0xffffffffu;
  auto get = [&](std::string_view key, std::uint64_t fallback, std::uint64_t max) {
    return r.Positive(*t, key, "limits." + std::string(key), fallback, max);
  };
  auto msg = get("max_message_bytes", limits.max_message_bytes, 1ull << 32);
  if (!msg.ok()) return msg.error();
  auto md = get("max_metadata_bytes", limits.max_metadata_bytes, 1ull << 30);
  if (!md.ok()) return md.error();
  auto depth = get("queue_depth", limits.queue_depth, 1u << 20);
  if (!depth.ok()) return depth.error();
  auto req = get("max_request_ms", limits.max_request_ms, kU32);
  if (!req.ok()) return req.error();
  auto handler = get("handler_timeout_ms", limits.handler_timeout_ms, kU32);
  if (!handler.ok()) return handler.error();
  limits.max_message_bytes = *msg;
  limits.max_metadata_bytes = *md;
  limits.queue_depth = static_cast<std::uint32_t>(*depth);
  limits.max_request_ms = static_cast<std::uint32_t>(*req);
  limits.handler_timeout_ms = static_cast<std::uint32_t>(*handler);
  auto memory = get("max_memory_bytes", limits.max_memory_bytes, 1ull << 32);
  if (!memory.ok()) return memory.error();
  limits.max_memory_bytes = *memory;
  auto fuel = r.Integer(*t, "fuel_per_call", "limits.fuel_per_call", 0, 0, 1ull << 62);
  if (!fuel.ok()) return fuel.error();
  limits.fuel_per_call = *fuel;
  auto in_flight = r.Integer(*t, "max_in_flight", "limits.max_in_flight", 0, 0, 1u << 24);
  if (!in_flight.ok()) return in_flight.error();
  limits.max_in_flight = static_cast<std::uint32_t>(*in_flight);
  auto messages = get("max_guest_messages", limits.max_guest_messages, 1u << 20);
  if (!messages.ok()) return messages.error();
  auto held = get("max_guest_message_bytes", limits.max_guest_message_bytes, 1ull << 40);
  if (!held.ok()) return held.error();
  auto clients = get("max_guest_clients", limits.max_guest_clients, 1u << 16);
  if (!clients.ok()) return clients.error();
  auto options = get("max_guest_request_options", limits.max_guest_request_options, 1u << 16);
  if (!options.ok()) return options.error();
  limits.max_guest_messages = static_cast<std::uint32_t>(*messages);
  limits.max_guest_message_bytes = *held;
  limits.max_guest_clients = static_cast<std::uint32_t>(*clients);
  limits.max_guest_request_options = static_cast<std::uint32_t>(*options);
  return Status::Ok();
}

// A table of adapter settings: every value a string, integer or boolean,
// kept in string form. `skip` names a key that is not a setting.
Result<std::map<std::string, std::string>> SettingsTable(const Reader& r, const toml::table& t,
                                                         const std::string& path,
                                                         std::string_view skip = {}) {
  std::map<std::string, std::string> settings;
  for (const auto& [key, value] : t) {
    if (!skip.empty() && key.str() == skip) continue;
    if (!(value.is_string() || value.is_integer() || value.is_boolean()))
      return r.Fail(&value, path + "." + std::string(key.str()),
                    "expected a string, integer or boolean");
    std::ostringstream out;
    if (value.is_string())
      out << *value.value<std::string>();
    else if (value.is_boolean())
      out << (*value.value<bool>() ? "true" : "false");
    else
      out << *value.value<std::int64_t>();
    settings[std::string(key.str())] = out.str();
  }
  return settings;
}

Status ParseBrokers(const Reader& r, const toml::table& root, std::vector<BrokerConfig>& brokers) {
  const toml::node* node = root.get("brokers");
  if (node) {
    const toml::table* t = node->as_table();
    if (!t) return r.Fail(node, "brokers", "expected a table of name = URL");
    for (const auto& [key, value] : *t) {
      const std::string name(key.str());
      const std::string path = "brokers." + name;
      if (name.empty()) return r.Fail(&value, "brokers", "a broker name must not be empty");
      BrokerConfig b;
      b.name = name;
      if (value.is_string()) {
        b.url = *value.value<std::string>();
      } else if (const toml::table* bt = value.as_table()) {
        auto url = r.String(*bt, "url", path + ".url", true);
        if (!url.ok()) return url.error();
        b.url = *url;
        auto options = SettingsTable(r, *bt, path, "url");
        if (!options.ok()) return options.error();
        b.options = std::move(options).value();
      } else {
        return r.Fail(&value, path, "expected a URL string or a table with url");
      }
      if (b.url.find("://") == std::string::npos)
        return r.Fail(&value, path,
                      "expected a URL like mem:// or nats://host:4222, got " +
                          Reader::Quote(b.url));
      brokers.push_back(std::move(b));
    }
  }
  const bool has_default = std::any_of(brokers.begin(), brokers.end(),
                                       [](const BrokerConfig& b) { return b.name == "default"; });
  if (!has_default) brokers.insert(brokers.begin(), BrokerConfig{"default", "mem://", {}});
  return Status::Ok();
}

Status ParseComponents(const Reader& r, const toml::table& root, const std::filesystem::path& base,
                       Config& config) {
  const toml::node* node = root.get("component");
  if (!node) return Status::Ok();
  const toml::array* array = node->as_array();
  if (!array) return r.Fail(node, "component", "expected [[component]] tables");
  std::set<std::string> names;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const std::string prefix = "component[" + std::to_string(i) + "]";
    const toml::node& item = *array->get(i);
    const toml::table* t = item.as_table();
    if (!t) return r.Fail(&item, prefix, "expected a table");
    FERRY_RETURN_IF_ERROR(r.CheckKeys(*t, prefix + ".",
                                      {"name", "path", "broker", "subscribe", "queue_group",
                                       "connect", "workers", "max_concurrent_per_instance", "extensions", "batch_size",
                                       "batch_linger_ms", "reuse_instances", "max_attempts",
                                       "retry_delay_ms", "max_retry_delay_ms", "dead_letter",
                                       "allow_publish", "allow_request", "allow_subscribe",
                                       "allow_http", "cloudevents_type", "cloudevents_source"}));
    ComponentConfig c;
    auto path = r.String(*t, "path", prefix + ".path", true);
    if (!path.ok()) return path.error();
    c.path = Resolve(base, *path);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(c.path, ec))
      return r.Fail(t->get("path"), prefix + ".path", "no such file: " + c.path.string());
    auto name = r.String(*t, "name", prefix + ".name");
    if (!name.ok()) return name.error();
    c.name = name->empty() ? c.path.stem().string() : *name;
    if (!names.insert(c.name).second)
      return r.Fail(t->get("name") ? t->get("name") : t, prefix + ".name",
                    "another component is already named \"" + c.name + "\"");
    auto broker = r.String(*t, "broker", prefix + ".broker");
    if (!broker.ok()) return broker.error();
    c.broker = broker->empty() ? "default" : *broker;
    if (!config.FindBroker(c.broker))
      return r.Fail(t->get("broker"), prefix + ".broker",
                    "no broker named \"" + c.broker + "\" in [brokers]");
    auto subs = r.Strings(*t, "subscribe", prefix + ".subscribe");
    if (!subs.ok()) return subs.error();
    for (std::size_t s = 0; s < subs->size(); ++s) {
      Status valid = ValidatePattern((*subs)[s]);
      if (!valid.ok())
        return r.Fail(t->get("subscribe")->as_array()->get(s),
                      prefix + ".subscribe[" + std::to_string(s) + "]", valid.error().message());
    }
    c.subscriptions = std::move(subs).value();
    auto group = r.String(*t, "queue_group", prefix + ".queue_group");
    if (!group.ok()) return group.error();
    c.queue_group = *group;
    auto connect = r.Strings(*t, "connect", prefix + ".connect");
    if (!connect.ok()) return connect.error();
    for (std::size_t k = 0; k < connect->size(); ++k)
      if (!config.FindBroker((*connect)[k]))
        return r.Fail(t->get("connect")->as_array()->get(k),
                      prefix + ".connect[" + std::to_string(k) + "]",
                      "no broker named \"" + (*connect)[k] + "\" in [brokers]");
    c.connect = connect->empty() ? std::vector<std::string>{c.broker} : std::move(connect).value();
    for (auto [key, into] : {std::pair{"allow_publish", &c.allow_publish},
                             std::pair{"allow_request", &c.allow_request},
                             std::pair{"allow_subscribe", &c.allow_subscribe}}) {
      auto patterns = r.Strings(*t, key, prefix + "." + key);
      if (!patterns.ok()) return patterns.error();
      for (std::size_t k = 0; k < patterns->size(); ++k) {
        Status valid = ValidatePattern((*patterns)[k]);
        if (!valid.ok())
          return r.Fail(t->get(key)->as_array()->get(k),
                        prefix + "." + key + "[" + std::to_string(k) + "]", valid.error().message());
      }
      *into = std::move(patterns).value();
    }
    auto http = r.Strings(*t, "allow_http", prefix + ".allow_http");
    if (!http.ok()) return http.error();
    for (std::size_t k = 0; k < http->size(); ++k) {
      Status valid = ValidateHttpGrant((*http)[k]);
      if (!valid.ok())
        return r.Fail(t->get("allow_http")->as_array()->get(k),
                      prefix + ".allow_http[" + std::to_string(k) + "]", valid.error().message());
    }
    c.allow_http = std::move(http).value();
    auto workers = r.Positive(*t, "workers", prefix + ".workers", 1, 256);
    if (!workers.ok()) return workers.error();
    c.workers = static_cast<std::uint32_t>(*workers);
    auto concurrent = r.Positive(*t, "max_concurrent_per_instance",
                                 prefix + ".max_concurrent_per_instance", 16, 1024);
    if (!concurrent.ok()) return concurrent.error();
    c.max_concurrent_per_instance = static_cast<std::uint32_t>(*concurrent);
    auto batch = r.Positive(*t, "batch_size", prefix + ".batch_size", 1, 10000);
    if (!batch.ok()) return batch.error();
    c.batch_size = static_cast<std::uint32_t>(*batch);
    auto linger = r.Integer(*t, "batch_linger_ms", prefix + ".batch_linger_ms", 0, 0, 60000);
    if (!linger.ok()) return linger.error();
    c.batch_linger = std::chrono::milliseconds(*linger);
    auto reuse = r.Bool(*t, "reuse_instances", prefix + ".reuse_instances", false);
    if (!reuse.ok()) return reuse.error();
    c.reuse_instances = *reuse;
    auto attempts = r.Positive(*t, "max_attempts", prefix + ".max_attempts", c.max_attempts, 1000);
    if (!attempts.ok()) return attempts.error();
    c.max_attempts = static_cast<std::uint32_t>(*attempts);
    auto delay = r.Integer(*t, "retry_delay_ms", prefix + ".retry_delay_ms",
                           static_cast<std::uint64_t>(c.retry_delay.count()), 0, 3600000);
    if (!delay.ok()) return delay.error();
    c.retry_delay = std::chrono::milliseconds(*delay);
    auto max_delay = r.Integer(*t, "max_retry_delay_ms", prefix + ".max_retry_delay_ms",
                               static_cast<std::uint64_t>(c.max_retry_delay.count()), 0, 86400000);
    if (!max_delay.ok()) return max_delay.error();
    c.max_retry_delay = std::chrono::milliseconds(*max_delay);
    auto dead = r.String(*t, "dead_letter", prefix + ".dead_letter");
    if (!dead.ok()) return dead.error();
    if (!dead->empty()) {
      Status valid = ValidateTopic(*dead);
      if (!valid.ok()) return r.Fail(t->get("dead_letter"), prefix + ".dead_letter", valid.error().message());
    }
    c.dead_letter = *dead;
    auto ce_type = r.String(*t, "cloudevents_type", prefix + ".cloudevents_type");
    if (!ce_type.ok()) return ce_type.error();
    auto ce_source = r.String(*t, "cloudevents_source", prefix + ".cloudevents_source");
    if (!ce_source.ok()) return ce_source.error();
    if (!ce_source->empty() && ce_type->empty())
      return r.Fail(t->get("cloudevents_source"), prefix + ".cloudevents_source",
                    "needs cloudevents_type: events are stamped only when they have a type");
    c.cloudevents_type = *ce_type;
    c.cloudevents_source = *ce_source;
    if (const toml::node* ext = t->get("extensions")) {
      const toml::table* et = ext->as_table();
      if (!et) return r.Fail(ext, prefix + ".extensions", "expected a table of broker settings");
      auto settings = SettingsTable(r, *et, prefix + ".extensions");
      if (!settings.ok()) return settings.error();
      c.extensions = std::move(settings).value();
    }
    config.components.push_back(std::move(c));
  }
  return Status::Ok();
}

Result<Config> Parse(std::string_view text, const std::filesystem::path& base_dir,
                     const std::string& file) {
  Reader r(file);
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    std::string description(e.description());
    std::replace(description.begin(), description.end(), '\n', ' ');  // errors are one line
    return Error::InvalidArgument(file + ":" + std::to_string(where.line) + ":" +
                                  std::to_string(where.column) + ": TOML syntax error: " +
                                  description);
  }
  FERRY_RETURN_IF_ERROR(r.CheckKeys(root, "", {"host", "limits", "brokers", "component", "gateway"}));
  Config config;
  FERRY_RETURN_IF_ERROR(ParseHost(r, root, base_dir, config.host));
  FERRY_RETURN_IF_ERROR(ParseLimits(r, root, config.limits));
  FERRY_RETURN_IF_ERROR(ParseBrokers(r, root, config.brokers));
  FERRY_RETURN_IF_ERROR(ParseComponents(r, root, base_dir, config));
  FERRY_RETURN_IF_ERROR(ParseGateway(root, file, base_dir, config));
  return config;
}

}  // namespace

const BrokerConfig* Config::FindBroker(std::string_view name) const {
  for (const auto& b : brokers)
    if (b.name == name) return &b;
  return nullptr;
}

Result<Config> ParseConfig(std::string_view text, const std::filesystem::path& base_dir) {
  return Parse(text, base_dir, "ferry.toml");
}

Result<Config> LoadConfig(const std::filesystem::path& path) {
  // A folder opens as a stream on Linux and would read as an empty config.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return Error::NotFound(path.string() + ": cannot read the configuration file: is a folder");
  std::ifstream in(path);
  if (!in)
    return Error::NotFound(path.string() + ": cannot read the configuration file: " +
                           std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::NotFound(path.string() + ": cannot read the configuration file");
  const auto base = std::filesystem::absolute(path).parent_path();
  return Parse(text.str(), base, path.filename().string());
}

Result<Config> SingleComponentConfig(const std::filesystem::path& component,
                                     const std::vector<std::string>& subscriptions,
                                     const std::string& broker_url) {
  Config config;
  config.brokers.push_back({"default", broker_url.empty() ? "mem://" : broker_url, {}});
  ComponentConfig c;
  c.path = std::filesystem::absolute(component);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(c.path, ec))
    return Error::NotFound(component.string() + ": no such file");
  c.name = c.path.stem().string();
  c.broker = "default";
  c.connect = {"default"};
  // `ferry run x.wasm` is the zero-set-up path: one component alone on the
  // embedded broker (or the one --broker names) may use all of it.
  // ferry.toml grants explicitly.
  c.allow_publish = {">"};
  c.allow_request = {">"};
  c.allow_subscribe = {">"};
  for (const auto& s : subscriptions) {
    Status valid = ValidatePattern(s);
    if (!valid.ok()) return Error::InvalidArgument("--subscribe: " + valid.error().message());
  }
  c.subscriptions = subscriptions;
  config.components.push_back(std::move(c));
  return config;
}

}  // namespace ferry::config
