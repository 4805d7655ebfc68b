// MQTT 5 through libmosquitto (Debian libmosquitto-dev). Topics map as
// mqtt_topics.h says; metadata travels as user properties, the content type
// as the content-type property, request-reply through response-topic.
// Queue groups are shared subscriptions ($share/<group>/<filter>).
//
// Each broker holds two MQTT connections: one publishes (and receives
// replies), one receives subscriptions. A busy subscriber then slows only
// what it receives, never the acknowledgements of what Ferry publishes.
//
// Limits of libmosquitto 2.0 stated plainly: it acknowledges a QoS 1 message
// to the server as soon as it arrives, before Ferry has handled it. Nack is
// therefore carried out by the adapter, which delivers the message again
// after the delay; a Ferry process that dies before handling a message has
// lost it. Accepted publishes are safe: Publish returns only once the server
// acknowledged (QoS 1) the message.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "brokers/broker.h"

namespace ferry {

struct MqttOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string user, password;
  // Set for a persistent session: the server keeps the subscriptions and
  // queues QoS 1 messages while Ferry is away. Empty: a fresh id each run.
  std::string client_id;
  std::uint32_t session_expiry_s = 3600;  // with client_id
  int keepalive_s = 30;
  int publish_qos = 1;
  bool tls = false;  // mqtts://
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  std::chrono::milliseconds connect_timeout{3000};
};

std::unique_ptr<Broker> MakeMqttBroker(const MqttOptions& options);

// From a `[brokers]` entry: mqtt://[user:password@]host[:port] or mqtts://,
// with settings client_id, session_expiry_s, keepalive_s, qos, user,
// password, tls_ca, tls_cert, tls_key, connect_timeout_ms. FERRY_MQTT_USER
// and FERRY_MQTT_PASSWORD fill in what the config leaves out.
Result<MqttOptions> MqttOptionsFrom(std::string_view url,
                                    const std::map<std::string, std::string>& settings);

}  // namespace ferry
