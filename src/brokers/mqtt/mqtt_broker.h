// MQTT 5 through libmosquitto 2.0 (Debian libmosquitto-dev). Topics map as
// mqtt_topics.h says; metadata travels as user properties, the content type
// as the content-type property, request-reply by response topic and
// correlation data. Queue groups are shared subscriptions
// ($share/<group>/<filter>). docs/brokers/mqtt.md is the user's view.
//
// Each broker holds two MQTT connections (mqtt_link.h): one publishes and
// receives replies on a response topic private to it, one receives
// subscriptions. A subscriber that is not keeping up then holds back only
// what it receives, never the acknowledgements of what Ferry publishes.
//
// Limits of libmosquitto 2.0, stated plainly: it acknowledges (PUBACK) an
// incoming QoS 1 message as soon as it arrives, before Ferry has handled it;
// 2.0.11 has no manual acknowledgement. So Nack is carried out by the
// adapter, which delivers the message again after the delay, and a Ferry
// process that stops or dies with messages in hand has lost those. What
// Ferry publishes is safe once Publish returns: it waits for the server's
// acknowledgement (QoS 1 or 2).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "brokers/broker.h"

namespace ferry {

struct MqttOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string user, password;
  // The receiving connection's session outlives a disconnect by this long,
  // so the server queues QoS 1 messages while Ferry is away. With a
  // client_id the session is also found again by the next run; without one
  // each run has a fresh id and ends its session when it closes.
  std::string client_id;
  std::optional<std::uint32_t> session_expiry_s;  // default 3600 with client_id, else 300
  int keepalive_s = 30;
  int publish_qos = 1;
  // QoS 1/2 publishes a guest's sends keep unacknowledged at once
  // (PublishAsync); a send waits for room past this. Setting max_unconfirmed.
  std::uint32_t max_unconfirmed = kDefaultMaxUnconfirmed;
  bool tls = false;  // mqtts://
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  std::chrono::milliseconds connect_timeout{3000};
  // After connecting, messages the resumed session delivers before a
  // matching subscription exists are held this long for it.
  std::chrono::milliseconds resume_window{30000};

  std::uint32_t SessionExpiry() const {
    return session_expiry_s.value_or(client_id.empty() ? 300 : 3600);
  }
};

std::unique_ptr<Broker> MakeMqttBroker(const MqttOptions& options);

// From a `[brokers]` entry: mqtt://[user:password@]host[:port] or mqtts://,
// with settings client_id, session_expiry_s, keepalive_s, qos, user,
// password, password_file, tls_ca, tls_cert, tls_key, connect_timeout_ms, resume_window_ms.
// FERRY_MQTT_USER and FERRY_MQTT_PASSWORD fill in what the config leaves out.
Result<MqttOptions> MqttOptionsFrom(std::string_view url,
                                    const std::map<std::string, std::string>& settings);

}  // namespace ferry
