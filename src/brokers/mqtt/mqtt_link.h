// One libmosquitto client (MQTT 5) and its network thread. The MQTT broker
// adapter holds two: one publishes and receives replies, one receives
// subscriptions.
//
// Threading: every method may be called from any thread except the
// callbacks' own. The callbacks (on_connected, on_lost, on_message) run on
// the link's network thread, which libmosquitto owns; on_message may block
// (that is how a full subscription queue holds back the server), the others
// must not.
#pragma once

#include <mosquitto.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "brokers/broker.h"
#include "brokers/mqtt/mqtt_broker.h"
#include "brokers/publish_window.h"

namespace ferry::mqtt {

// The one place libmosquitto return codes become Ferry errors.
Error MosqError(int rc, std::string_view context);

struct MosqDeleter {
  void operator()(mosquitto* m) const { mosquitto_destroy(m); }
};
struct PropsDeleter {
  void operator()(mosquitto_property* p) const { mosquitto_property_free_all(&p); }
};
using MosqPtr = std::unique_ptr<mosquitto, MosqDeleter>;
using PropsPtr = std::unique_ptr<mosquitto_property, PropsDeleter>;

struct LinkSettings {
  std::string client_id;
  bool clean_start = true;
  std::uint32_t session_expiry_s = 0;  // sent in CONNECT
};

class Link {
 public:
  using MessageFn = std::function<void(const mosquitto_message*, const mosquitto_property*)>;

  // `options` must outlive the link. `display` is the URL without secrets.
  Link(const MqttOptions& options, std::string display, LinkSettings settings);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Set before Connect.
  std::function<void(bool session_present)> on_connected;  // every CONNACK that succeeded
  std::function<void()> on_lost;
  MessageFn on_message;

  // Connects and waits for the CONNACK; afterwards libmosquitto reconnects by
  // itself with backoff.
  Status Connect();
  // Disconnects and stops the network thread. `end_session` asks the server
  // to drop the session (session expiry 0 in the DISCONNECT).
  void Close(bool end_session);

  bool connected() const { return connected_.load(); }

  // Publishes; for QoS 1 and 2 waits for the server's acknowledgement until
  // `deadline`. Takes ownership of nothing: `props` stays the caller's.
  Status Publish(const std::string& topic, const Bytes& data, int qos,
                 const mosquitto_property* props, Deadline deadline);
  // Publishes without waiting for the acknowledgement (Broker::PublishAsync):
  // takes a place in the link's window of max_unconfirmed (waiting for one
  // up to `deadline`), and `done` runs on the network thread when the
  // PUBACK (QoS 1) or PUBCOMP (QoS 2) arrives, with an error if the server
  // refused it or the connection dropped first (the message may still have
  // arrived: at least once). QoS 0 is done once handed to libmosquitto.
  Status PublishAsync(const std::string& topic, const Bytes& data, int qos,
                      const mosquitto_property* props, Deadline deadline, PublishCompletion done);
  // Subscribes (no-local off, retain as published) and waits for the SUBACK.
  Status Subscribe(const std::string& filter, int qos, int subscription_id);
  // Sends an UNSUBSCRIBE without waiting.
  void Unsubscribe(const std::string& filter);

  // Publishes taken into the window and not yet confirmed.
  std::uint32_t unconfirmed() const { return window_.used(); }

 private:
  static void OnConnect(mosquitto*, void* self, int rc, int flags, const mosquitto_property*);
  static void OnDisconnect(mosquitto*, void* self, int rc, const mosquitto_property*);
  static void OnPublish(mosquitto*, void* self, int mid, int reason, const mosquitto_property*);
  static void OnSubscribe(mosquitto*, void* self, int mid, int count, const int* granted,
                          const mosquitto_property*);
  static void OnMessage(mosquitto*, void* self, const mosquitto_message* m,
                        const mosquitto_property* props);
  // libmosquitto's log lines, on whichever thread logs (the network thread
  // for a TLS handshake): keeps why a handshake failed, for Connect.
  static void OnLog(mosquitto*, void* self, int level, const char* text);
  // Why the last TLS handshake failed ("" if none did), as one phrase.
  std::string TlsFailure();

  const MqttOptions& options_;
  const std::string display_;
  const LinkSettings settings_;
  MosqPtr mosq_;

  std::mutex mutex_;  // guards what follows and is held across mosquitto_publish_v5
  std::condition_variable cv_;
  int connack_ = -1;
  bool dropped_before_connack_ = false;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};
  std::set<int> awaiting_;        // mids of QoS 1/2 publishes someone waits for
  std::map<int, int> acked_;      // of those: mid -> reason code
  std::map<int, int> subacked_;   // mid -> granted QoS or reason code
  // Publishes no one waits for: mid -> its completion and topic.
  std::map<int, std::pair<PublishCompletion, std::string>> async_;
  PublishWindow window_;
  // Its own lock: libmosquitto may log while mutex_ is held.
  std::mutex tls_mutex_;
  std::string tls_failure_;
  // Completes every async publish still waiting with `why` (lost link, close).
  void FailAsync(const std::string& why);
};

}  // namespace ferry::mqtt
