// TLS for rabbitmq-c's SSL socket: the CA, the client certificate, and a
// check of the server's certificate done by OpenSSL itself, so that IP
// addresses in subjectAltName count (rabbitmq-c 0.11's own host check knows
// DNS names only) and a refusal can say why (expired, unknown CA).
// Only src/brokers/rabbitmq/ includes this header.
#pragma once

#include <amqp.h>

#include <memory>
#include <string>

#include "brokers/rabbitmq/rabbitmq_broker.h"

namespace ferry::amqp {

// Why OpenSSL refused the server's certificate during one handshake: the
// first failure's reason ("certificate has expired"), or "". Filled on the
// thread that opens the socket, during the open.
struct TlsVerdict {
  std::string reason;
};

// Sets up `socket` (from amqp_ssl_socket_new) from `options`. `verdict`
// must outlive the socket's open; `where` starts error messages.
[[nodiscard]] Status ConfigureTls(amqp_socket_t* socket, const RabbitMqOptions& options,
                                  TlsVerdict& verdict, const std::string& where);

// Why opening the TLS socket failed with rabbitmq-c `status`, when TLS can
// say more than the status text: the server's certificate's verification,
// OpenSSL's own error, a hint when the server may want a client
// certificate. "" when it cannot. Call on the thread that opened it.
std::string TlsFailure(int status, const TlsVerdict& verdict, const RabbitMqOptions& options);

// Detaches `verdict` from `socket` once its open is over.
void ForgetVerdict(amqp_socket_t* socket);

}  // namespace ferry::amqp
