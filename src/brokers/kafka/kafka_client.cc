#include "brokers/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "core/cloudevents.h"
#include "core/topic.h"

namespace ferry::kafka {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsReserved(std::string_view key) {
  return key == kContentTypeHeader || key == kReplyToHeader || key == kCorrelationHeader;
}

}  // namespace

Error KafkaError(std::string_view context, rd_kafka_resp_err_t err) {
  std::string message = fmt::format("{}: {}", context, rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return Error::Connection(std::move(message));
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Error::Timeout(std::move(message));
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return Error::ResourceExhausted(std::move(message));
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return Error::PermissionDenied(std::move(message));
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return Error::InvalidArgument(std::move(message));
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Error::NotFound(std::move(message));
    default:
      return Error::Internal(std::move(message));
  }
}

Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    return Error::InvalidArgument(fmt::format("librdkafka property {}: {}", name, err));
  return Status::Ok();
}

Result<Conf> BaseConf(const KafkaOptions& options) {
  Conf conf(rd_kafka_conf_new());
  FERRY_RETURN_IF_ERROR(Set(conf.get(), "bootstrap.servers", options.Bootstrap()));
  FERRY_RETURN_IF_ERROR(Set(conf.get(), "client.id", options.client_id));
  FERRY_RETURN_IF_ERROR(Set(conf.get(), "reconnect.backoff.ms", "100"));
  FERRY_RETURN_IF_ERROR(Set(conf.get(), "reconnect.backoff.max.ms", "2000"));
  FERRY_RETURN_IF_ERROR(Set(conf.get(), "log.connection.close", "false"));
  const char* protocol = options.tls ? (options.user.empty() ? "ssl" : "sasl_ssl")
                                     : (options.user.empty() ? "plaintext" : "sasl_plaintext");
  FERRY_RETURN_IF_ERROR(Set(conf.get(), "security.protocol", protocol));
  if (options.tls) {
    FERRY_RETURN_IF_ERROR(Set(conf.get(), "ssl.endpoint.identification.algorithm", "https"));
    FERRY_RETURN_IF_ERROR(Set(conf.get(), "enable.ssl.certificate.verification", "true"));
    if (!options.tls_ca_file.empty())
      FERRY_RETURN_IF_ERROR(Set(conf.get(), "ssl.ca.location", options.tls_ca_file));
    if (!options.tls_cert_file.empty()) {
      FERRY_RETURN_IF_ERROR(Set(conf.get(), "ssl.certificate.location", options.tls_cert_file));
      FERRY_RETURN_IF_ERROR(Set(conf.get(), "ssl.key.location", options.tls_key_file));
    }
  }
  if (!options.user.empty()) {
    FERRY_RETURN_IF_ERROR(Set(conf.get(), "sasl.mechanisms", options.sasl_mechanism));
    FERRY_RETURN_IF_ERROR(Set(conf.get(), "sasl.username", options.user));
    FERRY_RETURN_IF_ERROR(Set(conf.get(), "sasl.password", options.password));
  }
  // Called on librdkafka's internal threads; only logs.
  rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int level, const char* facility,
                                          const char* line) {
    spdlog::debug("librdkafka {} {}: {}", level, facility, line);
  });
  for (const auto& [name, value] : options.rdkafka)
    FERRY_RETURN_IF_ERROR(Set(conf.get(), name, value));
  return conf;
}

Result<std::string> ToKafkaTopic(std::string_view topic) {
  FERRY_RETURN_IF_ERROR(ValidateTopic(topic));
  if (topic.size() > 249)
    return Error::InvalidArgument(fmt::format("topic '{}...' is longer than Kafka's 249 characters",
                                              topic.substr(0, 40)));
  for (char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok)
      return Error::InvalidArgument(fmt::format(
          "topic '{}' holds '{}': Kafka topic names allow only letters, digits, '.', '_' and '-'",
          topic, c));
  }
  return std::string(topic);
}

Result<std::string> ToSubscription(std::string_view pattern) {
  FERRY_RETURN_IF_ERROR(ValidatePattern(pattern));
  if (pattern.find_first_of("*>") == std::string_view::npos) return ToKafkaTopic(pattern);
  std::string regex = "^";
  std::size_t start = 0;
  while (start <= pattern.size()) {
    const std::size_t dot = pattern.find('.', start);
    const std::string_view token =
        pattern.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (start > 0) regex += "\\.";
    if (token == "*") {
      regex += "[^.]+";
    } else if (token == ">") {
      regex += ".+";
    } else {
      auto checked = ToKafkaTopic(token);
      if (!checked.ok()) return checked.error();
      for (char c : token) {
        if (c == '.' || c == '-') regex += '\\';
        regex += c;
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return regex + "$";
}

std::string ReplyAddress(std::string_view topic, std::string_view correlation) {
  std::string out(topic);
  out += '#';
  for (char c : correlation) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

Result<Destination> ParseDestination(std::string_view address) {
  Destination d;
  const std::size_t hash = address.find('#');
  if (hash != std::string_view::npos) {
    const std::string_view hex = address.substr(hash + 1);
    if (hex.size() % 2 != 0)
      return Error::InvalidArgument(fmt::format("reply address '{}': bad correlation id", address));
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      const int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
      if (hi < 0 || lo < 0)
        return Error::InvalidArgument(fmt::format("reply address '{}': bad correlation id", address));
      d.correlation += static_cast<char>(hi * 16 + lo);
    }
    d.has_correlation = true;
    address = address.substr(0, hash);
  }
  auto topic = ToKafkaTopic(address);
  if (!topic.ok()) return topic.error();
  d.topic = std::move(topic).value();
  return d;
}

Result<Headers> ToHeaders(const Message& message) {
  Headers headers(rd_kafka_headers_new(message.metadata.size() + 3));
  Metadata renamed;
  for (const auto& [key, value] : CloudEventsToWire(message.metadata, CloudEventsBinding::kKafka, renamed)) {
    if (key == kKeyMetadata) continue;
    if (IsReserved(key))
      return Error::InvalidArgument(fmt::format(
          "metadata key '{}' is reserved by the Kafka adapter (it sets that header itself)", key));
    rd_kafka_header_add(headers.get(), key.data(), static_cast<ssize_t>(key.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  auto add = [&](std::string_view name, std::string_view value) {
    rd_kafka_header_add(headers.get(), name.data(), static_cast<ssize_t>(name.size()),
                        value.data(), static_cast<ssize_t>(value.size()));
  };
  if (message.content_type) add(kContentTypeHeader, *message.content_type);
  if (!message.reply_to.empty()) {
    auto dest = ParseDestination(message.reply_to);
    if (!dest.ok()) return dest.error();
    add(kReplyToHeader, dest->topic);
    if (dest->has_correlation) add(kCorrelationHeader, dest->correlation);
  }
  return headers;
}

Message FromRecord(Record record) {
  Message m;
  rd_kafka_message_t* r = record.get();
  m.topic = rd_kafka_topic_name(r->rkt);
  if (r->key) m.metadata.Set(std::string(kKeyMetadata), std::string(static_cast<const char*>(r->key), r->key_len));
  rd_kafka_headers_t* headers = nullptr;
  std::string reply_topic, correlation;
  bool has_correlation = false;
  if (rd_kafka_message_headers(r, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      std::string v = value ? std::string(static_cast<const char*>(value), size) : std::string();
      if (name == kContentTypeHeader) m.content_type = std::move(v);
      else if (name == kReplyToHeader) reply_topic = std::move(v);
      else if (name == kCorrelationHeader) correlation = std::move(v), has_correlation = true;
      else m.metadata.Set(name, std::move(v));
    }
  }
  CloudEventsFromWire(m.metadata, CloudEventsBinding::kKafka);
  if (!reply_topic.empty())
    m.reply_to = has_correlation ? ReplyAddress(reply_topic, correlation) : reply_topic;
  // Copied: a record must not outlive its handle (rd_kafka_destroy waits
  // for every record to be freed), and a Message may.
  if (r->len > 0) m.data = Bytes::Copy({static_cast<const std::uint8_t*>(r->payload), r->len});
  return m;
}

}  // namespace ferry::kafka
