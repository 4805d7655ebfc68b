// The RabbitMQ adapter over TLS (amqps://) against the shared test node's
// TLS listener (support/rabbitmq_server.h), which asks every client for a
// certificate: mutual TLS, an unrelated CA, a missing client certificate,
// an expired server certificate (openssl s_server: one node has one set of
// TLS settings), and a password from the environment or a file that never
// reaches the log.
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/host_fixture.h"
#include "support/matchers.h"
#include "support/rabbitmq_server.h"
#include "support/tls_certs.h"
#include "support/tls_checks.h"

namespace ferry::testing {
namespace {

// The display URL names the vhost.
std::string Display(const RabbitMqServer& server) { return server.TlsUrl() + "/"; }

TEST(RabbitMqTls, MutualTlsCarriesAnEcho) {
  RabbitMqServer& server = SharedRabbitMq();
  ExpectEchoThrough({server.TlsUrl(), ClientCertificateSettings(SharedTlsFiles().ca)}, "rtls.in");
}

TEST(RabbitMqTls, AnUnrelatedCaIsRefusedInOneLine) {
  RabbitMqServer& server = SharedRabbitMq();
  ExpectConnectFails({server.TlsUrl(), ClientCertificateSettings(SharedTlsFiles().other_ca)},
                     Display(server), {"certificate verify failed"});
}

TEST(RabbitMqTls, WithoutTlsCaTheSystemsCasDecide) {
  RabbitMqServer& server = SharedRabbitMq();
  auto settings = ClientCertificateSettings(SharedTlsFiles().ca);
  settings.erase("tls_ca");
  // The test CA is not among the system's...
  ExpectConnectFails({server.TlsUrl(), settings}, Display(server), {"certificate verify failed"});
  // ...until OpenSSL's own variable names it as the system's CA file.
  ASSERT_EQ(::setenv("SSL_CERT_FILE", SharedTlsFiles().ca.c_str(), 1), 0);
  ExpectEchoThrough({server.TlsUrl(), settings}, "rtls.system.in");
  ::unsetenv("SSL_CERT_FILE");
}

TEST(RabbitMqTls, TlsVerifyFalseTakesAnyServerCertificate) {
  // The server's certificate is from a CA the client does not know; with
  // tls_verify = false the connection is encrypted but not authenticated.
  RabbitMqServer& server = SharedRabbitMq();
  auto settings = ClientCertificateSettings(SharedTlsFiles().other_ca);
  settings["tls_verify"] = "false";
  ExpectEchoThrough({server.TlsUrl(), settings}, "rtls.noverify.in");
}

TEST(RabbitMqTls, WithoutAClientCertificateIsRefusedInOneLine) {
  RabbitMqServer& server = SharedRabbitMq();
  ExpectConnectFails({server.TlsUrl(), {{"tls_ca", SharedTlsFiles().ca.string()}}},
                     Display(server), {"require a client certificate (tls_cert, tls_key)?"});
}

TEST(RabbitMqTls, AnExpiredOrMisnamedServerCertificateIsRefusedInOneLine) {
  const TlsFiles& f = SharedTlsFiles();
  for (const auto& [cert, reason] : {std::pair{f.expired_cert, "certificate has expired"},
                                     std::pair{f.other_name_cert, "IP address mismatch"}}) {
    auto server = PresentingServer(cert);
    const std::string url = "amqps://127.0.0.1:" + std::to_string(server->port());
    ExpectConnectFails({url, ClientCertificateSettings(f.ca)}, url + "/", {reason});
  }
}

TEST(RabbitMqTls, PasswordFromTheEnvironmentOrAFileIsUsedAndNeverLogged) {
  RabbitMqServer& server = SharedRabbitMq();
  const std::string secret = "rabb1t-Secret-9920";
  (void)server.Ctl("delete_user ferry-tls");
  ASSERT_OK(server.Ctl("add_user ferry-tls " + secret));
  ASSERT_OK(server.Ctl("set_permissions -p / ferry-tls '.*' '.*' '.*'"));
  BrokerEntry base{server.TlsUrl(), ClientCertificateSettings(SharedTlsFiles().ca)};
  base.settings["user"] = "ferry-tls";
  ExpectPasswordFromTheEnvironmentOrAFile(base, "FERRY_AMQP_PASSWORD", secret, "rtls", Display(server),
                                          {"ACCESS_REFUSED"});
}

}  // namespace
}  // namespace ferry::testing
