// Apache Kafka through librdkafka (Debian librdkafka-dev). Ferry topics are
// Kafka topic names as they are ('.' is legal there); wildcard patterns
// become regex subscriptions. Metadata travels as record headers, the content
// type in the `content-type` header, the record key in the metadata key
// `kafka-key`, request-reply through a reply topic and a `correlation-id`
// header. Queue groups are consumer groups; a subscription without one is
// a consumer group of its own. docs/brokers/kafka.md is the user's view.
//
// Guarantees: Publish returns once the record is acknowledged by all in-sync
// replicas (idempotent producer, acks=all). A consumed record's offset is
// committed only when it and every earlier record of its partition are
// settled, so what a host holds when it dies is delivered again.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brokers/broker.h"

namespace ferry {

struct KafkaOptions {
  std::vector<std::string> bootstrap{"127.0.0.1:9092"};  // host:port each
  // SASL over plaintext when `user` is set (mechanism PLAIN or SCRAM-SHA-*).
  std::string user, password;
  std::string sasl_mechanism = "PLAIN";
  // TLS (librdkafka's security.protocol ssl, or sasl_ssl with `user`): the
  // server's certificate is checked against tls_ca_file (else the system's
  // CAs) and its host name; tls_cert_file and tls_key_file (PEM) are the
  // client's certificate for servers that ask for one (mutual TLS).
  bool tls = false;
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  std::string client_id = "ferry";
  // Connect fails when no broker answers a metadata request within this.
  std::chrono::milliseconds connect_timeout{5000};
  // A record librdkafka could not deliver within this is given up on.
  std::chrono::milliseconds delivery_timeout{30000};
  // A group member silent this long is dropped and its partitions move.
  std::chrono::milliseconds session_timeout{10000};
  // How soon a new topic matching a wildcard subscription is noticed.
  std::chrono::milliseconds metadata_refresh{5000};
  // A rebalance waits this long for deliveries of revoked partitions to be
  // settled; later settlements are ignored and the records go to the new owner.
  std::chrono::milliseconds revoke_wait{10000};
  // Records a guest's sends keep without a delivery report at once
  // (PublishAsync); a send waits for room past this. Setting max_unconfirmed.
  std::uint32_t max_unconfirmed = kDefaultMaxUnconfirmed;
  // librdkafka properties passed through as they are ("rdkafka.<name>").
  std::map<std::string, std::string> rdkafka;

  std::string Bootstrap() const;
};

std::unique_ptr<Broker> MakeKafkaBroker(const KafkaOptions& options);

// From a `[brokers]` entry: kafka://[user:password@]host[:port][,host[:port]]
// with settings user, password, password_file, sasl_mechanism, tls, tls_ca,
// tls_cert, tls_key, client_id,
// connect_timeout_ms, delivery_timeout_ms, session_timeout_ms,
// metadata_refresh_ms, revoke_wait_ms, max_unconfirmed and rdkafka.<property>.
// FERRY_KAFKA_USER and FERRY_KAFKA_PASSWORD fill in what the config leaves out.
Result<KafkaOptions> KafkaOptionsFrom(std::string_view url,
                                      const std::map<std::string, std::string>& settings);

}  // namespace ferry
