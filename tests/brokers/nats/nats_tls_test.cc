// The NATS adapter over TLS against a real nats-server (--tls) on loopback,
// with throwaway certificates (support/tls_certs.h): the server's
// certificate checked against the configured CA, mutual TLS, and
// credentials from the environment or a file that never reach the log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "brokers/registry.h"

#include "support/host_fixture.h"
#include "support/server_process.h"
#include "support/tls_certs.h"
#include "support/tls_checks.h"

namespace ferry::testing {
namespace {

// A nats-server with TLS on a free loopback port, serving `cert`; `extra`
// adds flags (--tlsverify, --user ...).
std::unique_ptr<ServerProcess> TlsNatsServer(const std::filesystem::path& cert,
                                             std::vector<std::string> extra = {}) {
  const TlsFiles& f = SharedTlsFiles();
  std::vector<std::string> argv = {"nats-server", "-a", "127.0.0.1", "-p", "$PORT", "--tls",
                                   "--tlscert", cert.string(), "--tlskey", f.server_key.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto server = std::make_unique<ServerProcess>("nats-server", std::move(argv));
  EXPECT_OK(server->Start());
  return server;
}

std::string Url(const ServerProcess& server) { return "tls://127.0.0.1:" + std::to_string(server.port()); }

TEST(NatsTls, ServerCheckedAgainstTheConfiguredCaCarriesAnEcho) {
  auto server = TlsNatsServer(SharedTlsFiles().server_cert);
  ExpectEchoThrough({Url(*server), {{"tls_ca", SharedTlsFiles().ca.string()}}}, "ntls.in");
}

TEST(NatsTls, WithoutTlsCaTheSystemsCasDecide) {
  auto server = TlsNatsServer(SharedTlsFiles().server_cert);
  // The test CA is not among the system's...
  ExpectConnectFails({Url(*server), {{"tls", "true"}}}, Url(*server),
                     {"certificate verify failed", "unable to get local issuer certificate"});
  // ...until OpenSSL's own variable names it as the system's CA file.
  ASSERT_EQ(::setenv("SSL_CERT_FILE", SharedTlsFiles().ca.c_str(), 1), 0);
  ExpectEchoThrough({Url(*server), {{"tls", "true"}}}, "ntls.system.in");
  ::unsetenv("SSL_CERT_FILE");
}

TEST(NatsTls, AnUnrelatedCaIsRefusedInOneLine) {
  auto server = TlsNatsServer(SharedTlsFiles().server_cert);
  ExpectConnectFails({Url(*server), {{"tls_ca", SharedTlsFiles().other_ca.string()}}}, Url(*server),
                     {"certificate verify failed", "unable to get local issuer certificate"});
}

TEST(NatsTls, AnExpiredServerCertificateIsRefusedInOneLine) {
  auto server = TlsNatsServer(SharedTlsFiles().expired_cert);
  ExpectConnectFails({Url(*server), {{"tls_ca", SharedTlsFiles().ca.string()}}}, Url(*server),
                     {"certificate has expired"});
}

TEST(NatsTls, AServerCertificateForAnotherNameIsRefusedInOneLine) {
  auto server = TlsNatsServer(SharedTlsFiles().other_name_cert);
  ExpectConnectFails({Url(*server), {{"tls_ca", SharedTlsFiles().ca.string()}}}, Url(*server),
                     {"IP address mismatch", "hostname mismatch"});
}

TEST(NatsTls, MutualTlsConnectsWithAClientCertificateAndNotWithout) {
  const TlsFiles& f = SharedTlsFiles();
  auto server = TlsNatsServer(f.server_cert, {"--tlsverify", "--tlscacert", f.ca.string()});
  ExpectEchoThrough({Url(*server),
                       {{"tls_ca", f.ca.string()},
                        {"tls_cert", f.client_cert.string()},
                        {"tls_key", f.client_key.string()}}},
                      "ntls.mutual");
  // TLS 1.3: the server checks the client's certificate after the client's
  // handshake is done, and closes the connection.
  ExpectConnectFails({Url(*server), {{"tls_ca", f.ca.string()}}}, Url(*server),
                     {"require a client certificate (tls_cert, tls_key)?"});
}

TEST(NatsTls, PasswordFromTheEnvironmentOrAFileIsUsedAndNeverLogged) {
  const TlsFiles& f = SharedTlsFiles();
  const std::string secret = "n4ts-Secret-7731";
  auto server = TlsNatsServer(f.server_cert, {"--user", "ferry", "--pass", secret});
  ExpectPasswordFromTheEnvironmentOrAFile(
      {Url(*server), {{"tls_ca", f.ca.string()}, {"user", "ferry"}}}, "FERRY_NATS_PASSWORD", secret,
      "ntls", Url(*server), {"Authorization Violation"});
}

TEST(NatsTls, TokenFromAFileIsUsedAndNeverLogged) {
  const std::string token = "t0ken-Secret-3387";
  auto server = TlsNatsServer(SharedTlsFiles().server_cert, {"--auth", token});
  TempDir dir;
  ExpectEchoThrough({Url(*server),
                     {{"tls_ca", SharedTlsFiles().ca.string()},
                      {"token_file", dir.Write("nats-token", token + "\n").string()}}},
                    "ntls.token", {token});
}

TEST(NatsTls, AMissingPasswordFileIsNamedInTheError) {
  auto made = MakeBroker("tls://127.0.0.1:1", {{"password_file", "/nonexistent/ferry-pw"}});
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().message(),
            "password_file: cannot read '/nonexistent/ferry-pw': No such file or directory");
}

}  // namespace
}  // namespace ferry::testing
