#include "brokers/rabbitmq/amqp_tls.h"

#include <amqp_ssl_socket.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "brokers/rabbitmq/amqp_link.h"

namespace ferry::amqp {

namespace {

// The SSL_CTX slot that points at the TlsVerdict of the open in progress.
int VerdictIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL's chain verification callback, on the thread opening the socket:
// keeps the first failure's reason, and changes no outcome.
int Record(int ok, X509_STORE_CTX* store) {
  if (ok) return ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (!ssl) return ok;
  auto* verdict = static_cast<TlsVerdict*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), VerdictIndex()));
  if (verdict && verdict->reason.empty())
    verdict->reason = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
  return ok;
}

}  // namespace

Status ConfigureTls(amqp_socket_t* socket, const RabbitMqOptions& options, TlsVerdict& verdict,
                    const std::string& where) {
  amqp_ssl_socket_set_verify_peer(socket, options.tls_verify);
  // OpenSSL checks the name below as part of the chain; rabbitmq-c's own
  // check would refuse an IP address the certificate names.
  amqp_ssl_socket_set_verify_hostname(socket, false);
  if (!options.tls_ca_file.empty()) {
    const int rc = amqp_ssl_socket_set_cacert(socket, options.tls_ca_file.c_str());
    if (rc != AMQP_STATUS_OK) return StatusError(rc, where + ": CA file " + options.tls_ca_file);
  }
  if (!options.tls_cert_file.empty()) {
    const int rc = amqp_ssl_socket_set_key(socket, options.tls_cert_file.c_str(),
                                           options.tls_key_file.c_str());
    if (rc != AMQP_STATUS_OK) return StatusError(rc, where + ": client certificate or key");
  }
  auto* ctx = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
  if (!ctx) return Error::Internal(where + ": the TLS socket has no OpenSSL context");
  // Without tls_ca the server is checked against the system's CAs.
  if (options.tls_verify && options.tls_ca_file.empty() && SSL_CTX_set_default_verify_paths(ctx) != 1)
    return Error::Internal(where + ": cannot load the system's CA certificates");
  if (options.tls_verify) {
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    in6_addr addr;
    const bool ip = ::inet_pton(AF_INET, options.host.c_str(), &addr) == 1 ||
                    ::inet_pton(AF_INET6, options.host.c_str(), &addr) == 1;
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, options.host.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, options.host.c_str(), 0);
    if (set != 1)
      return Error::InvalidArgument(where + ": cannot check the server's name '" + options.host + "'");
  }
  SSL_CTX_set_ex_data(ctx, VerdictIndex(), &verdict);
  X509_STORE_set_verify_cb(SSL_CTX_get_cert_store(ctx), &Record);
  return Status::Ok();
}

std::string TlsFailure(int status, const TlsVerdict& verdict, const RabbitMqOptions& options) {
  if (!verdict.reason.empty()) return "TLS: certificate verify failed (" + verdict.reason + ")";
  if (status != AMQP_STATUS_SSL_ERROR && status != AMQP_STATUS_SSL_CONNECTION_FAILED) return "";
  std::string why = "TLS handshake failed";
  if (const unsigned long e = ERR_peek_last_error(); e != 0)
    if (const char* reason = ERR_reason_error_string(e)) why += std::string(" (") + reason + ")";
  ERR_clear_error();
  if (options.tls_cert_file.empty())
    why += "; does the server require a client certificate (tls_cert, tls_key)?";
  return why;
}

void ForgetVerdict(amqp_socket_t* socket) {
  if (auto* ctx = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket)))
    SSL_CTX_set_ex_data(ctx, VerdictIndex(), nullptr);
}

}  // namespace ferry::amqp
