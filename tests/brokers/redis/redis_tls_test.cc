// Redis behind TLS. Debian 12's hiredis (0.14) has no TLS, so rediss:// is
// refused; the documented way (docs/brokers/redis.md) is a TLS tunnel on
// loopback. Here a TLS-only redis-server (--port 0 --tls-port) with a
// password, and Debian's stunnel4 as the tunnel's client end, checking the
// server's certificate against the test CA.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "brokers/registry.h"
#include "support/server_process.h"
#include "support/tls_certs.h"
#include "support/tls_checks.h"

namespace ferry::testing {
namespace {

constexpr const char* kSecret = "r3dis-Secret-5521";

std::unique_ptr<ServerProcess> TlsOnlyRedis() {
  const TlsFiles& f = SharedTlsFiles();
  auto server = std::make_unique<ServerProcess>(
      "redis-server",
      std::vector<std::string>{"redis-server", "--port", "0", "--tls-port", "$PORT", "--bind",
                               "127.0.0.1", "--tls-cert-file", f.server_cert.string(),
                               "--tls-key-file", f.server_key.string(), "--tls-ca-cert-file",
                               f.ca.string(), "--tls-auth-clients", "no", "--requirepass", kSecret,
                               "--save", "", "--appendonly", "no", "--dir", "$DIR"});
  EXPECT_OK(server->Start());
  return server;
}

// stunnel's client end: plain on a free loopback port, TLS to `port`,
// trusting `ca` and checking that the certificate names 127.0.0.1.
std::unique_ptr<ServerProcess> Tunnel(std::uint16_t port, const std::filesystem::path& ca,
                                      const TempDir& dir) {
  const std::uint16_t local = FreePort();
  const auto conf = dir.Write("stunnel.conf", "foreground = yes\npid =\n[redis]\nclient = yes\n"
                                              "accept = 127.0.0.1:" + std::to_string(local) +
                                              "\nconnect = 127.0.0.1:" + std::to_string(port) +
                                              "\nCAfile = " + ca.string() +
                                              "\nverifyChain = yes\ncheckIP = 127.0.0.1\n");
  auto tunnel = std::make_unique<ServerProcess>(
      "stunnel", std::vector<std::string>{"stunnel", conf.string()});
  tunnel->UsePort(local);
  EXPECT_OK(tunnel->Start());
  return tunnel;
}

TEST(RedisTls, RedissIsRefusedNamingTheTunnel) {
  auto made = MakeBroker("rediss://127.0.0.1:6380", {});
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().message(),
            "rediss:// (TLS) needs hiredis 1.0 or later; Debian 12's hiredis 0.14 has no TLS. Use "
            "redis:// to a local TLS tunnel (stunnel), see docs/brokers/redis.md");
}

TEST(RedisTls, AStunnelTunnelCarriesAnEchoWithThePasswordFromAFile) {
  auto server = TlsOnlyRedis();
  TempDir dir;
  auto tunnel = Tunnel(server->port(), SharedTlsFiles().ca, dir);
  const std::string url = "redis://127.0.0.1:" + std::to_string(tunnel->port());
  ExpectEchoThrough({url, {{"password_file", dir.Write("redis-password", std::string(kSecret) + "\n").string()}}},
                    "rdtls.in", {kSecret});
}

TEST(RedisTls, ATunnelThatDistrustsTheServerLetsNothingThrough) {
  auto server = TlsOnlyRedis();
  TempDir dir;
  auto tunnel = Tunnel(server->port(), SharedTlsFiles().other_ca, dir);
  const std::string url = "redis://127.0.0.1:" + std::to_string(tunnel->port());
  ExpectConnectFails({url, {{"password_file", dir.Write("redis-password", kSecret).string()}}}, url,
                     {"closed", "reset", "EOF", "Connection"}, {kSecret});
}

}  // namespace
}  // namespace ferry::testing
