// What the Kafka adapter's pieces share: move-only owners of librdkafka
// handles, the one conversion of librdkafka error codes, the configuration
// every handle starts from, the topic mapping and the record <-> Message
// conversion.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <string_view>

#include "brokers/kafka/kafka_broker.h"

namespace ferry::kafka {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct PartitionsDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct RecordDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};

using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using Partitions = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionsDeleter>;
using Record = std::unique_ptr<rd_kafka_message_t, RecordDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using Headers = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

// The one place librdkafka error codes become Ferry errors:
// "<context>: <librdkafka's description>".
Error KafkaError(std::string_view context, rd_kafka_resp_err_t err);

// Header names the adapter sets and reads itself; metadata cannot use them.
inline constexpr std::string_view kContentTypeHeader = "content-type";
inline constexpr std::string_view kReplyToHeader = "reply-to";
inline constexpr std::string_view kCorrelationHeader = "correlation-id";
// Metadata key carrying the record key (both ways).
inline constexpr std::string_view kKeyMetadata = "kafka-key";

// The configuration every handle starts from: servers, credentials, client
// id, quiet logging (librdkafka's log lines go to spdlog at debug level),
// then the user's rdkafka.* properties.
Result<Conf> BaseConf(const KafkaOptions& options);
Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

// A Ferry topic as a Kafka topic name: the same string, which must hold only
// letters, digits, '.', '_' and '-' and be at most 249 characters.
Result<std::string> ToKafkaTopic(std::string_view topic);
// A pattern as a librdkafka subscription: a topic name, or for '*' and '>'
// a regex ("^orders\.[^.]+$").
Result<std::string> ToSubscription(std::string_view pattern);

// Reply addresses carry the correlation id: "<reply topic>#<hex of the id>".
std::string ReplyAddress(std::string_view topic, std::string_view correlation);
struct Destination {
  std::string topic;        // Kafka topic name
  std::string correlation;  // empty when the address had none
  bool has_correlation = false;
};
Result<Destination> ParseDestination(std::string_view address);

// A Message as a record's headers (metadata, content type, reply address).
// The key (metadata kafka-key) is not among them. Invalid: a metadata key
// the adapter reserves.
Result<Headers> ToHeaders(const Message& message);
// A consumed record as a Message (the payload copied; the record is freed).
Message FromRecord(Record record);

}  // namespace ferry::kafka
