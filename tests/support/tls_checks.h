// What every broker's TLS tests check, whatever the broker: a Ferry
// component answers over the secured connection, a refused connection says
// why in one line, and secrets never reach the log.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/server_process.h"

namespace ferry::testing {

// A [brokers] entry: its URL and settings (tls_ca, tls_cert, password_file...).
struct BrokerEntry {
  std::string url;
  std::map<std::string, std::string> settings;
};

// Settings that trust `ca` and present the test client certificate
// (SharedTlsFiles()): tls_ca, tls_cert, tls_key.
std::map<std::string, std::string> ClientCertificateSettings(const std::filesystem::path& ca);

// Runs a host whose default broker is `broker`, with the echo component
// subscribed to `in` (it answers on echo.out), logging at debug level, and
// waits until a probe published by the host comes back through the server.
// None of `secrets` may appear in anything logged meanwhile.
void ExpectEchoThrough(const BrokerEntry& broker, const std::string& in,
                         const std::vector<std::string>& secrets = {});

// Connecting to `broker` fails with one line that names `display_url` and
// contains at least one of `reasons`; no secret of `secrets` appears in it.
// Returns the line (empty if it connected).
std::string ExpectConnectFails(const BrokerEntry& broker, const std::string& display_url,
                               const std::vector<std::string>& reasons,
                               const std::vector<std::string>& secrets = {});

// The credentials check every broker makes: `base` (with its user) carries
// an echo on <prefix>.env with `secret` in the environment variable
// `env_var`, then on <prefix>.file with it in a password_file; a wrong
// password in a file is refused in one line naming `display_url` and one of
// `wrong_reasons` (with `wrong_settings` added: a shorter timeout). The
// secret and the wrong password are in nothing logged.
void ExpectPasswordFromTheEnvironmentOrAFile(const BrokerEntry& base, const std::string& env_var,
                                             const std::string& secret, const std::string& prefix,
                                             const std::string& display_url,
                                             const std::vector<std::string>& wrong_reasons,
                                             const std::map<std::string, std::string>& wrong_settings = {});

// A TLS server on loopback (openssl s_server) presenting `cert` (with
// SharedTlsFiles().server_key): a client that checks the server's
// certificate fails its handshake (on the date, on the name) before any
// broker protocol is spoken. For brokers whose test server is too costly
// to start a second time with another certificate (RabbitMQ, Kafka).
std::unique_ptr<ServerProcess> PresentingServer(const std::filesystem::path& cert);

// Sets an environment variable for the current scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  bool had_ = false;
  std::string old_;
};

}  // namespace ferry::testing
