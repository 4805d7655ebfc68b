// The Kafka adapter over TLS against the shared test server's TLS
// listeners (support/kafka_server.h): mutual TLS, SASL/PLAIN over TLS with
// a password from the environment or a file that never reaches the log, an
// unrelated CA, a missing client certificate, and an expired server
// certificate (openssl s_server: the handshake fails before Kafka speaks).
#include <gtest/gtest.h>

#include <cstdlib>

#include "brokers/kafka/kafka_broker.h"
#include "support/host_fixture.h"
#include "support/matchers.h"
#include "support/kafka_config.h"
#include "support/kafka_server.h"
#include "support/tls_certs.h"
#include "support/tls_checks.h"

namespace ferry::testing {
namespace {

// Kafka's first connection over TLS may take a few seconds on a loaded
// machine: a generous connect timeout.
std::map<std::string, std::string> ClientCertificate(const std::filesystem::path& ca) {
  auto settings = ClientCertificateSettings(ca);
  settings["connect_timeout_ms"] = "10000";
  return settings;
}

TEST(KafkaTls, SettingsChooseTheSecurityProtocolAndGoInPairs) {
  auto tls = KafkaOptionsFrom("kafka://k:9093", {{"tls_ca", "/ca.pem"}});
  ASSERT_OK(tls);
  EXPECT_TRUE(tls->tls);
  auto plain = KafkaOptionsFrom("kafka://k:9092", {});
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->tls);
  auto half = KafkaOptionsFrom("kafka://k:9093", {{"tls_cert", "/client.pem"}});
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().message(), "tls_cert and tls_key go together");
  auto bad = KafkaOptionsFrom("kafka://k:9093", {{"tls", "yes"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "tls: expected true or false, got 'yes'");
}

TEST(KafkaTls, MutualTlsCarriesAnEcho) {
  ExpectEchoThrough({SharedKafka().TlsUrl(), ClientCertificate(SharedTlsFiles().ca)}, "ktls.in");
}

// A refusal is final: librdkafka would retry until connect_timeout_ms (a
// minute here), the adapter gives up at the first one. The bound is loose
// (a loaded machine), far below the minute.
constexpr char kLongConnectTimeout[] = "60000";
constexpr auto kRefusedWithin = std::chrono::seconds(20);

void ExpectRefusedAtOnce(const BrokerEntry& spec, const std::string& url,
                         const std::vector<std::string>& reason) {
  const auto start = std::chrono::steady_clock::now();
  ExpectConnectFails(spec, url, reason);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kRefusedWithin);
}

TEST(KafkaTls, AnUnrelatedCaIsRefusedInOneLine) {
  KafkaServer& server = SharedKafka();
  auto settings = ClientCertificate(SharedTlsFiles().other_ca);
  settings["connect_timeout_ms"] = kLongConnectTimeout;
  ExpectRefusedAtOnce({server.TlsUrl(), settings}, server.TlsUrl(), {"certificate verify failed"});
}

TEST(KafkaTls, WithoutTlsCaTheSystemsCasDecide) {
  KafkaServer& server = SharedKafka();
  auto settings = ClientCertificate(SharedTlsFiles().ca);
  settings.erase("tls_ca");
  settings["tls"] = "true";
  // The test CA is not among the system's...
  ExpectRefusedAtOnce({server.TlsUrl(), settings}, server.TlsUrl(), {"certificate verify failed"});
  // ...until OpenSSL's own variable names it as the system's CA file.
  ASSERT_EQ(::setenv("SSL_CERT_FILE", SharedTlsFiles().ca.c_str(), 1), 0);
  ExpectEchoThrough({server.TlsUrl(), settings}, "ktls.system.in");
  ::unsetenv("SSL_CERT_FILE");
}

TEST(KafkaTls, WithoutAClientCertificateIsRefusedInOneLine) {
  KafkaServer& server = SharedKafka();
  ExpectRefusedAtOnce({server.TlsUrl(),
                       {{"tls_ca", SharedTlsFiles().ca.string()}, {"connect_timeout_ms", kLongConnectTimeout}}},
                      server.TlsUrl(), {"require a client certificate (tls_cert, tls_key)?"});
}

TEST(KafkaTls, AnExpiredOrMisnamedServerCertificateIsRefusedInOneLine) {
  const TlsFiles& f = SharedTlsFiles();
  auto settings = ClientCertificate(f.ca);
  settings["connect_timeout_ms"] = kLongConnectTimeout;
  for (const auto& [cert, reason] : {std::pair{f.expired_cert, "certificate has expired"},
                                     std::pair{f.other_name_cert, "IP address mismatch"}}) {
    auto server = PresentingServer(cert);
    const std::string url = "kafka://127.0.0.1:" + std::to_string(server->port());
    ExpectRefusedAtOnce({url, settings}, url, {reason});
  }
}

TEST(KafkaTls, SaslPasswordFromTheEnvironmentOrAFileIsUsedAndNeverLogged) {
  KafkaServer& server = SharedKafka();
  ExpectPasswordFromTheEnvironmentOrAFile(
      {server.SaslTlsUrl(),
       {{"tls_ca", SharedTlsFiles().ca.string()}, {"user", kKafkaUser}, {"connect_timeout_ms", "10000"}}},
      "FERRY_KAFKA_PASSWORD", kKafkaPassword, "ktls", server.SaslTlsUrl(),
      {"Invalid username or password"}, {{"connect_timeout_ms", "3000"}});
}

}  // namespace
}  // namespace ferry::testing
