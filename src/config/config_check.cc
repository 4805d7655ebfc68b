// CompleteConfig: a configuration built in code (ferry/config.h), held to
// the rules ParseConfig applies to a ferry.toml, with the same defaults.
#include <algorithm>
#include <set>

#include "config/config.h"
#include "core/topic.h"
#include "core/http_url.h"
#include "core/listen_address.h"

namespace ferry::config {
namespace {

Error Fail(const std::string& field, const std::string& why) {
  return Error::InvalidArgument(field + ": " + why);
}

Status CheckPatterns(const std::string& field, const std::vector<std::string>& patterns) {
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    Status valid = ValidatePattern(patterns[i]);
    if (!valid.ok()) return Fail(field + "[" + std::to_string(i) + "]", valid.error().message());
  }
  return Status::Ok();
}

Status CheckRange(const std::string& field, std::uint64_t value, std::uint64_t low,
                  std::uint64_t high) {
  if (value >= low && value <= high) return Status::Ok();
  return Fail(field, "expected " + std::to_string(low) + " to " + std::to_string(high) + ", got " +
                         std::to_string(value));
}

Status CompleteComponent(const Config& config, const std::string& field, ComponentConfig& c) {
  if (c.bytes) {
    if (c.bytes->empty()) return Fail(field + ".bytes", "the component's bytes are empty");
  } else {
    std::error_code ec;
    if (c.path.empty()) return Fail(field, "needs a path or the component's bytes");
    c.path = std::filesystem::absolute(c.path, ec);
    if (!std::filesystem::is_regular_file(c.path, ec))
      return Fail(field + ".path", "no such file: " + c.path.string());
  }
  if (c.name.empty()) c.name = c.path.stem().string();
  if (c.name.empty()) return Fail(field + ".name", "a component given as bytes needs a name");
  if (c.broker.empty()) c.broker = "default";
  if (!config.FindBroker(c.broker))
    return Fail(field + ".broker", "no broker named \"" + c.broker + "\" in the brokers");
  if (c.connect.empty()) c.connect = {c.broker};
  for (std::size_t k = 0; k < c.connect.size(); ++k)
    if (!config.FindBroker(c.connect[k]))
      return Fail(field + ".connect[" + std::to_string(k) + "]",
                  "no broker named \"" + c.connect[k] + "\" in the brokers");
  FERRY_RETURN_IF_ERROR(CheckPatterns(field + ".subscribe", c.subscriptions));
  FERRY_RETURN_IF_ERROR(CheckPatterns(field + ".allow_publish", c.allow_publish));
  FERRY_RETURN_IF_ERROR(CheckPatterns(field + ".allow_request", c.allow_request));
  FERRY_RETURN_IF_ERROR(CheckPatterns(field + ".allow_subscribe", c.allow_subscribe));
  for (std::size_t k = 0; k < c.allow_http.size(); ++k) {
    Status valid = ValidateHttpGrant(c.allow_http[k]);
    if (!valid.ok()) return Fail(field + ".allow_http[" + std::to_string(k) + "]", valid.error().message());
  }
  FERRY_RETURN_IF_ERROR(CheckRange(field + ".workers", c.workers, 1, 256));
  FERRY_RETURN_IF_ERROR(CheckRange(field + ".max_concurrent_per_instance",
                                   c.max_concurrent_per_instance, 1, 1024));
  FERRY_RETURN_IF_ERROR(CheckRange(field + ".batch_size", c.batch_size, 1, 10000));
  FERRY_RETURN_IF_ERROR(CheckRange(field + ".batch_linger_ms", c.batch_linger.count(), 0, 60000));
  FERRY_RETURN_IF_ERROR(CheckRange(field + ".max_attempts", c.max_attempts, 1, 1000));
  FERRY_RETURN_IF_ERROR(CheckRange(field + ".retry_delay_ms", c.retry_delay.count(), 0, 3600000));
  FERRY_RETURN_IF_ERROR(
      CheckRange(field + ".max_retry_delay_ms", c.max_retry_delay.count(), 0, 86400000));
  if (!c.dead_letter.empty()) {
    Status valid = ValidateTopic(c.dead_letter);
    if (!valid.ok()) return Fail(field + ".dead_letter", valid.error().message());
  }
  return Status::Ok();
}

}  // namespace

Result<Config> CompleteConfig(Config config) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < config.brokers.size(); ++i) {
    const BrokerConfig& b = config.brokers[i];
    const std::string field = "brokers[" + std::to_string(i) + "]";
    if (b.name.empty()) return Fail(field + ".name", "a broker name must not be empty");
    if (!names.insert(b.name).second)
      return Fail(field + ".name", "another broker is already named \"" + b.name + "\"");
    if (b.url.find("://") == std::string::npos)
      return Fail(field + ".url", "expected a URL like mem:// or nats://host:4222, got \"" + b.url + "\"");
  }
  if (!config.FindBroker("default"))
    config.brokers.insert(config.brokers.begin(), BrokerConfig{"default", "mem://", {}});
  names.clear();
  for (std::size_t i = 0; i < config.components.size(); ++i) {
    const std::string field = "component[" + std::to_string(i) + "]";
    FERRY_RETURN_IF_ERROR(CompleteComponent(config, field, config.components[i]));
    if (!names.insert(config.components[i].name).second)
      return Fail(field + ".name",
                  "another component is already named \"" + config.components[i].name + "\"");
  }
  if (config.limits.queue_depth == 0) return Fail("limits.queue_depth", "must be at least 1");
  if (!config.host.metrics.empty()) {
    auto address = ParseListenAddress(config.host.metrics);
    if (!address.ok()) return Fail("host.metrics", address.error().message());
  }
  if (!config.host.otlp_endpoint.empty()) {
    auto url = ParseHttpUrl(config.host.otlp_endpoint);
    if (!url.ok()) return Fail("host.otlp_endpoint", url.error().message());
  }
  if (config.host.metrics_max_topics == 0) return Fail("host.metrics_max_topics", "must be at least 1");
  if (config.host.log_format != "text" && config.host.log_format != "json")
    return Fail("host.log_format", "expected text or json, got \"" + config.host.log_format + "\"");
  for (std::size_t i = 0; i < config.components.size(); ++i)
    if (!config.components[i].cloudevents_source.empty() && config.components[i].cloudevents_type.empty())
      return Fail("component[" + std::to_string(i) + "].cloudevents_source",
                  "needs cloudevents_type: events are stamped only when they have a type");
  FERRY_RETURN_IF_ERROR(CheckGateway(config));
  return config;
}

}  // namespace ferry::config
