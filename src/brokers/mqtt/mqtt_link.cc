#include "brokers/mqtt/mqtt_link.h"

#include <mqtt_protocol.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>

namespace ferry::mqtt {

Error MosqError(int rc, std::string_view context) {
  std::string text = std::string(context) + ": " +
                     (rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno))
                                           : std::string(mosquitto_strerror(rc)));
  switch (rc) {
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
    case MOSQ_ERR_CONN_REFUSED:
    case MOSQ_ERR_ERRNO:
    case MOSQ_ERR_EAI:
    case MOSQ_ERR_TLS:
    case MOSQ_ERR_KEEPALIVE:
      return Error::Connection(std::move(text));
    case MOSQ_ERR_AUTH:
    case MOSQ_ERR_ACL_DENIED:
      return Error::PermissionDenied(std::move(text));
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET:
      return Error::ResourceExhausted(std::move(text));
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_MALFORMED_UTF8:
      return Error::InvalidArgument(std::move(text));
    case MOSQ_ERR_NOT_SUPPORTED:
      return Error::Unsupported(std::move(text));
    default:
      return Error::Internal(std::move(text));
  }
}

Link::Link(const MqttOptions& options, std::string display, LinkSettings settings)
    : options_(options),
      display_(std::move(display)),
      settings_(std::move(settings)),
      window_(options.max_unconfirmed) {}

Link::~Link() { Close(false); }

Status Link::Connect() {
  mosquitto* raw = mosquitto_new(settings_.client_id.c_str(), settings_.clean_start, this);
  if (!raw) return Error::Internal("mosquitto_new failed: " + std::string(std::strerror(errno)));
  mosq_.reset(raw);
  mosquitto_int_option(raw, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(raw, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_v5_callback_set(raw, &Link::OnConnect);
  mosquitto_disconnect_v5_callback_set(raw, &Link::OnDisconnect);
  mosquitto_publish_v5_callback_set(raw, &Link::OnPublish);
  mosquitto_subscribe_v5_callback_set(raw, &Link::OnSubscribe);
  mosquitto_message_v5_callback_set(raw, &Link::OnMessage);
  mosquitto_reconnect_delay_set(raw, 1, 5, true);
  {
    std::lock_guard lock(tls_mutex_);
    tls_failure_.clear();
  }
  {
    std::lock_guard lock(mutex_);
    dropped_before_connack_ = false;
  }
  // Only while connecting over TLS: with a log callback set, libmosquitto
  // formats a line for every packet.
  if (options_.tls) mosquitto_log_callback_set(raw, &Link::OnLog);
  if (!options_.user.empty()) {
    const int rc = mosquitto_username_pw_set(
        raw, options_.user.c_str(), options_.password.empty() ? nullptr : options_.password.c_str());
    if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, display_ + ": credentials");
  }
  if (options_.tls) {
    auto opt = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    const int rc = mosquitto_tls_set(raw, opt(options_.tls_ca_file),
                                     options_.tls_ca_file.empty() ? "/etc/ssl/certs" : nullptr,
                                     opt(options_.tls_cert_file), opt(options_.tls_key_file),
                                     nullptr);
    if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, display_ + ": TLS files");
    // Without tls_ca: the system's CA certificates as OpenSSL finds them
    // (SSL_CERT_FILE / SSL_CERT_DIR included), beside /etc/ssl/certs.
    if (options_.tls_ca_file.empty()) {
      const int os = mosquitto_int_option(raw, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
      if (os != MOSQ_ERR_SUCCESS) return MosqError(os, display_ + ": the system's CA certificates");
    }
  }
  mosquitto_property* props = nullptr;
  if (settings_.session_expiry_s > 0)
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                 settings_.session_expiry_s);
  PropsPtr owned(props);
  int rc = mosquitto_connect_bind_v5(raw, options_.host.c_str(), options_.port,
                                     options_.keepalive_s, nullptr, props);
  if (rc != MOSQ_ERR_SUCCESS) {
    const int error = errno;
    std::string why = rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(error))
                                           : std::string(mosquitto_strerror(rc));
    // libmosquitto reports a TLS failure as errno EPROTO.
    const bool tls_failed = rc == MOSQ_ERR_TLS || (rc == MOSQ_ERR_ERRNO && error == EPROTO);
    if (const std::string tls = TlsFailure(); !tls.empty()) why = tls;
    // TLS 1.3: a server that wants a client certificate checks it after the
    // client's handshake is done and closes the connection during CONNECT.
    else if (tls_failed && options_.tls && options_.tls_cert_file.empty())
      why += " (the server ended the TLS connection: does the server require a client "
             "certificate (tls_cert, tls_key)?)";
    return Error::Connection("cannot connect to " + display_ + ": " + why);
  }
  rc = mosquitto_loop_start(raw);
  if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, display_ + ": network thread");
  std::unique_lock lock(mutex_);
  // A failed TLS handshake (on the network thread) is logged (OnLog), and a
  // drop before the CONNACK over TLS is how a server that wants a client
  // certificate answers a client without one: either ends this wait.
  const Deadline until = Clock::now() + options_.connect_timeout;
  auto answered = [&] {
    return connack_ >= 0 || !TlsFailure().empty() || (options_.tls && dropped_before_connack_);
  };
  while (!answered() && Clock::now() < until) cv_.wait_for(lock, std::chrono::milliseconds(50));
  if (!answered()) {
    lock.unlock();
    Close(false);
    return Error::Connection("cannot connect to " + display_ + ": no CONNACK within " +
                             std::to_string(options_.connect_timeout.count()) + " ms");
  }
  if (connack_ < 0) {
    lock.unlock();
    Close(false);
    std::string why = TlsFailure();
    if (why.empty()) {
      why = "the server closed the TLS connection before its CONNACK";
      if (options_.tls_cert_file.empty())
        why += " (does the server require a client certificate (tls_cert, tls_key)?)";
    }
    return Error::Connection("cannot connect to " + display_ + ": " + why);
  }
  if (connack_ != 0) {
    const int code = connack_;
    lock.unlock();
    Close(false);
    std::string why = mosquitto_reason_string(code);
    if (code == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION)
      why += " (Ferry needs a server that speaks MQTT 5)";
    return Error::Connection("cannot connect to " + display_ + ": " + why);
  }
  lock.unlock();
  if (options_.tls) mosquitto_log_callback_set(mosq_.get(), nullptr);
  return Status::Ok();
}

void Link::Close(bool end_session) {
  if (!mosq_) return;
  closing_ = true;
  mosquitto_property* props = nullptr;
  if (end_session && settings_.session_expiry_s > 0)
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 0);
  PropsPtr owned(props);
  mosquitto_disconnect_v5(mosq_.get(), MQTT_RC_NORMAL_DISCONNECTION, props);
  mosquitto_loop_stop(mosq_.get(), /*force=*/false);
  mosq_.reset();
  {
    std::lock_guard lock(mutex_);
    connected_ = false;
    cv_.notify_all();
  }
  FailAsync(display_ + ": the connection was closed before the server acknowledged a message");
}

Status Link::PublishAsync(const std::string& topic, const Bytes& data, int qos,
                          const mosquitto_property* props, Deadline deadline,
                          PublishCompletion done) {
  if (!connected()) return Error::Connection(display_ + " is not connected");
  if (qos == 0) {
    FERRY_RETURN_IF_ERROR(Publish(topic, data, qos, props, deadline));
    done(Status::Ok());
    return Status::Ok();
  }
  FERRY_RETURN_IF_ERROR(window_.Acquire(deadline, display_ + ": publish to " + topic));
  std::unique_lock lock(mutex_);
  // Held across the call so the acknowledgement (network thread, which
  // takes the mutex) finds the mid already recorded.
  int mid = 0;
  const int rc = mosquitto_publish_v5(mosq_.get(), &mid, topic.c_str(),
                                      static_cast<int>(data.size()), data.data(), qos, false,
                                      props);
  if (rc != MOSQ_ERR_SUCCESS) {
    lock.unlock();
    window_.Release();
    return MosqError(rc, "publishing to " + topic);
  }
  async_[mid] = {std::move(done), topic};
  return Status::Ok();
}

void Link::FailAsync(const std::string& why) {
  std::map<int, std::pair<PublishCompletion, std::string>> lost;
  {
    std::lock_guard lock(mutex_);
    lost.swap(async_);
  }
  for (auto& [mid, pending] : lost) {
    pending.first(Error::Connection(why + " (to " + pending.second + ")"));
    window_.Release();
  }
}

Status Link::Publish(const std::string& topic, const Bytes& data, int qos,
                     const mosquitto_property* props, Deadline deadline) {
  if (!connected()) return Error::Connection(display_ + " is not connected");
  std::unique_lock lock(mutex_);
  // Held across the call so the acknowledgement (network thread, which takes
  // the mutex) cannot be recorded before the mid is known to be awaited.
  int mid = 0;
  const int rc = mosquitto_publish_v5(mosq_.get(), &mid, topic.c_str(),
                                      static_cast<int>(data.size()), data.data(), qos, false,
                                      props);
  if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, "publishing to " + topic);
  if (qos == 0) return Status::Ok();
  awaiting_.insert(mid);
  const bool done = cv_.wait_until(lock, deadline, [&] {
    return acked_.count(mid) > 0 || !connected_.load() || closing_.load();
  });
  awaiting_.erase(mid);
  auto it = acked_.find(mid);
  if (it == acked_.end()) {
    if (!done)
      return Error::ResourceExhausted("the server did not acknowledge a message to " + topic +
                                      " before the deadline");
    return Error::Connection(display_ + ": the connection dropped before the server "
                             "acknowledged a message to " + topic);
  }
  const int reason = it->second;
  acked_.erase(it);
  if (reason >= 0x80)
    return Error::PermissionDenied("the server refused a message to " + topic + ": " +
                                   mosquitto_reason_string(reason));
  return Status::Ok();
}

Status Link::Subscribe(const std::string& filter, int qos, int subscription_id) {
  if (!connected()) return Error::Connection(display_ + " is not connected");
  mosquitto_property* props = nullptr;
  if (subscription_id > 0)
    mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, subscription_id);
  PropsPtr owned(props);
  std::unique_lock lock(mutex_);
  int mid = 0;
  const int rc = mosquitto_subscribe_v5(mosq_.get(), &mid, filter.c_str(), qos, 0, props);
  if (rc != MOSQ_ERR_SUCCESS) return MosqError(rc, "subscribing to " + filter);
  subacked_.erase(mid);
  if (!cv_.wait_for(lock, options_.connect_timeout,
                    [&] { return subacked_.count(mid) > 0 || closing_.load(); }))
    return Error::Timeout("the server did not confirm the subscription to " + filter);
  if (closing_) return Error::Connection(display_ + " is closing");
  const int granted = subacked_[mid];
  subacked_.erase(mid);
  if (granted >= 0x80)
    return Error::PermissionDenied("the server refused the subscription to " + filter + ": " +
                                   mosquitto_reason_string(granted));
  return Status::Ok();
}

void Link::Unsubscribe(const std::string& filter) {
  if (mosq_ && connected()) mosquitto_unsubscribe(mosq_.get(), nullptr, filter.c_str());
}

void Link::OnConnect(mosquitto*, void* self, int rc, int flags, const mosquitto_property*) {
  auto* link = static_cast<Link*>(self);
  {
    std::lock_guard lock(link->mutex_);
    link->connack_ = rc;
    link->connected_ = rc == 0;
    link->cv_.notify_all();
  }
  // flags bit 0: the server resumed a session it kept for this client id.
  if (rc == 0 && link->on_connected) link->on_connected((flags & 1) != 0);
}

void Link::OnLog(mosquitto* mosq, void* self, int level, const char* text) {
  auto* link = static_cast<Link*>(self);
  constexpr std::string_view kOpenSsl = "OpenSSL Error";
  std::string_view line = text ? text : "";
  if (level != MOSQ_LOG_ERR || !line.starts_with(kOpenSsl)) return;
  // The handshake's SSL object still lives while its failure is logged:
  // its verification result says why the server's certificate was refused.
  std::string why;
  if (SSL* ssl = static_cast<SSL*>(mosquitto_ssl_get(mosq))) {
    const long verify = SSL_get_verify_result(ssl);
    // libmosquitto checks the host name in its own verify callback, whose
    // refusal OpenSSL records as "unspecified"; the chain's own failures
    // keep their codes.
    if (verify == X509_V_ERR_UNSPECIFIED)
      why = "TLS: certificate verify failed (the certificate does not name " + link->options_.host + ")";
    else if (verify != X509_V_OK)
      why = std::string("TLS: certificate verify failed (") + X509_verify_cert_error_string(verify) + ")";
  }
  if (why.empty()) {
    // "OpenSSL Error[0]: error:0A00045C:SSL routines::tlsv13 alert certificate required"
    const auto colon = line.rfind(':');
    why = "TLS: " + std::string(colon == std::string_view::npos ? line : line.substr(colon + 1));
    if (link->options_.tls_cert_file.empty())
      why += "; does the server require a client certificate (tls_cert, tls_key)?";
  }
  {
    std::lock_guard lock(link->tls_mutex_);
    if (link->tls_failure_.empty()) link->tls_failure_ = std::move(why);
  }
  // Without mutex_ (this thread may hold it); Connect waits in short slices,
  // so a wake-up missed here costs it one slice.
  link->cv_.notify_all();
}

std::string Link::TlsFailure() {
  std::lock_guard lock(tls_mutex_);
  return tls_failure_;
}

void Link::OnDisconnect(mosquitto*, void* self, int, const mosquitto_property*) {
  auto* link = static_cast<Link*>(self);
  {
    std::lock_guard lock(link->mutex_);
    link->connected_ = false;
    if (link->connack_ < 0) link->dropped_before_connack_ = true;
    link->cv_.notify_all();
  }
  // libmosquitto may send them again on the next connection, but nothing
  // says the server has them: their senders are told they may be lost.
  link->FailAsync(link->display_ + (link->closing_ ? ": the connection was closed" : ": the connection dropped") +
                  " before the server acknowledged a message");
  if (!link->closing_ && link->on_lost) link->on_lost();
}

// The network thread. An async publish's completion runs here, outside
// the mutex.
void Link::OnPublish(mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
  auto* link = static_cast<Link*>(self);
  std::pair<PublishCompletion, std::string> pending;
  {
    std::lock_guard lock(link->mutex_);
    auto it = link->async_.find(mid);
    if (it == link->async_.end()) {
      if (!link->awaiting_.count(mid)) return;  // QoS 0, or its waiter gave up
      link->acked_[mid] = reason;
      link->cv_.notify_all();
      return;
    }
    pending = std::move(it->second);
    link->async_.erase(it);
  }
  if (reason >= 0x80)
    pending.first(Error::PermissionDenied("the server refused a message to " + pending.second +
                                          ": " + mosquitto_reason_string(reason)));
  else
    pending.first(Status::Ok());
  link->window_.Release();  // after the report: the place is held until then
}

void Link::OnSubscribe(mosquitto*, void* self, int mid, int count, const int* granted,
                       const mosquitto_property*) {
  auto* link = static_cast<Link*>(self);
  std::lock_guard lock(link->mutex_);
  link->subacked_[mid] = count > 0 ? granted[0] : 0x80;
  link->cv_.notify_all();
}

void Link::OnMessage(mosquitto*, void* self, const mosquitto_message* m,
                     const mosquitto_property* props) {
  auto* link = static_cast<Link*>(self);
  if (link->on_message) link->on_message(m, props);
}

}  // namespace ferry::mqtt
