// The MQTT adapter over TLS (mqtts://) against a real mosquitto with a TLS
// listener on loopback, with throwaway certificates (support/tls_certs.h):
// the server's certificate checked against the configured CA, mutual TLS,
// and a password from the environment or a file that never reaches the log.
#include <gtest/gtest.h>

#include <cstdlib>

#include <memory>

#include "brokers/registry.h"
#include "support/mosquitto_conf.h"
#include "support/server_process.h"
#include "support/shell.h"
#include "support/tls_certs.h"
#include "support/tls_checks.h"

namespace ferry::testing {
namespace {

// A mosquitto whose only listener speaks TLS with `cert`; `rest` adds
// settings (require_certificate, password_file ...).
class TlsMosquitto {
 public:
  TlsMosquitto(const std::filesystem::path& cert, const std::string& rest = "allow_anonymous true\n")
      : port_(FreePort()) {
    const TlsFiles& f = SharedTlsFiles();
    const auto conf = dir_.Write(
        "mosquitto.conf",
        MosquittoConf(port_, "cafile " + f.ca.string() + "\ncertfile " + cert.string() +
                                 "\nkeyfile " + f.server_key.string() + "\n" + rest));
    server_ = std::make_unique<ServerProcess>("mosquitto",
                                              std::vector<std::string>{"mosquitto", "-c", conf.string()});
    server_->UsePort(port_);
    EXPECT_OK(server_->Start());
  }
  std::string Url() const { return "mqtts://127.0.0.1:" + std::to_string(port_); }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<ServerProcess> server_;
};

TEST(MqttTls, ServerCheckedAgainstTheConfiguredCaCarriesAnEcho) {
  TlsMosquitto server(SharedTlsFiles().server_cert);
  ExpectEchoThrough({server.Url(), {{"tls_ca", SharedTlsFiles().ca.string()}}}, "mtls.in");
}

TEST(MqttTls, WithoutTlsCaTheSystemsCasDecide) {
  TlsMosquitto server(SharedTlsFiles().server_cert);
  // The test CA is not among the system's...
  ExpectConnectFails({server.Url(), {}}, server.Url(), {"certificate verify failed"});
  // ...until OpenSSL's own variable names it as the system's CA file.
  ASSERT_EQ(::setenv("SSL_CERT_FILE", SharedTlsFiles().ca.c_str(), 1), 0);
  ExpectEchoThrough({server.Url(), {}}, "mtls.system.in");
  ::unsetenv("SSL_CERT_FILE");
}

TEST(MqttTls, AnUnrelatedCaIsRefusedInOneLine) {
  TlsMosquitto server(SharedTlsFiles().server_cert);
  ExpectConnectFails({server.Url(), {{"tls_ca", SharedTlsFiles().other_ca.string()}}}, server.Url(),
                     {"certificate verify failed"});
}

TEST(MqttTls, AnExpiredServerCertificateIsRefusedInOneLine) {
  TlsMosquitto server(SharedTlsFiles().expired_cert);
  ExpectConnectFails({server.Url(), {{"tls_ca", SharedTlsFiles().ca.string()}}}, server.Url(),
                     {"certificate has expired"});
}

TEST(MqttTls, AServerCertificateForAnotherNameIsRefusedInOneLine) {
  TlsMosquitto server(SharedTlsFiles().other_name_cert);
  ExpectConnectFails({server.Url(), {{"tls_ca", SharedTlsFiles().ca.string()}}}, server.Url(),
                     {"the certificate does not name 127.0.0.1"});
}

TEST(MqttTls, MutualTlsConnectsWithAClientCertificateAndNotWithout) {
  const TlsFiles& f = SharedTlsFiles();
  TlsMosquitto server(f.server_cert, "allow_anonymous true\nrequire_certificate true\n");
  ExpectEchoThrough({server.Url(),
                       {{"tls_ca", f.ca.string()},
                        {"tls_cert", f.client_cert.string()},
                        {"tls_key", f.client_key.string()}}},
                      "mtls.mutual");
  ExpectConnectFails({server.Url(), {{"tls_ca", f.ca.string()}}}, server.Url(),
                     {"require a client certificate (tls_cert, tls_key)?"});
}

TEST(MqttTls, PasswordFromTheEnvironmentOrAFileIsUsedAndNeverLogged) {
  const TlsFiles& f = SharedTlsFiles();
  const std::string secret = "mq77-Secret-4410";
  TempDir dir;
  const auto passwd = dir.path() / "passwd";
  ASSERT_EQ(Shell("mosquitto_passwd -b -c " + passwd.string() + " ferry " + secret), "");
  TlsMosquitto server(f.server_cert, "allow_anonymous false\npassword_file " + passwd.string() + "\n");
  ExpectPasswordFromTheEnvironmentOrAFile(
      {server.Url(), {{"tls_ca", f.ca.string()}, {"user", "ferry"}}}, "FERRY_MQTT_PASSWORD", secret,
      "mtls", server.Url(), {"Not authorized", "Bad user name or password"});
}

}  // namespace
}  // namespace ferry::testing
