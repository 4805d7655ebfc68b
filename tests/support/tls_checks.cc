#include "support/tls_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "brokers/registry.h"
#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/matchers.h"
#include "support/restart_proof.h"
#include "support/tls_certs.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

std::string Toml(const BrokerEntry& broker) {
  std::string out = "{ url = \"" + broker.url + "\"";
  for (const auto& [key, value] : broker.settings) out += ", " + key + " = \"" + value + "\"";
  return out + " }";
}

void ExpectNoSecret(const std::string& text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets)
    EXPECT_EQ(text.find(secret), std::string::npos) << "a secret was logged: " << text;
}

}  // namespace

std::map<std::string, std::string> ClientCertificateSettings(const std::filesystem::path& ca) {
  const TlsFiles& f = SharedTlsFiles();
  return {{"tls_ca", ca.string()},
          {"tls_cert", f.client_cert.string()},
          {"tls_key", f.client_key.string()}};
}

void ExpectEchoThrough(const BrokerEntry& broker, const std::string& in,
                         const std::vector<std::string>& secrets) {
  LogCapture log;
  {
    RunningHost host("[brokers]\ndefault = " + Toml(broker) +
                         "\n[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"" + in +
                         "\"]\n",
                     "debug");
    ASSERT_OK(host.start_status());
    Inbox& out = host.Listen("echo.out");
    EXPECT_TRUE(ProbeUntilEchoed([&](const std::string& body) { return host.Publish(in, body); },
                                 [&] {
                                   std::vector<std::string> texts;
                                   for (const Message& m : out.Snapshot()) texts.push_back(Text(m));
                                   return texts;
                                 },
                                 200ms))
        << "no echo over " << broker.url;
  }
  const auto lines = log.Lines();
  EXPECT_FALSE(lines.empty()) << "nothing was logged, so the secret check proves nothing";
  for (const std::string& line : lines) ExpectNoSecret(line, secrets);
}

std::string ExpectConnectFails(const BrokerEntry& broker, const std::string& display_url,
                               const std::vector<std::string>& reasons,
                               const std::vector<std::string>& secrets) {
  LogCapture log;
  auto made = MakeBroker(broker.url, broker.settings);
  if (!made.ok()) {
    ADD_FAILURE() << "not even made: " << made.error().message();
    return "";
  }
  const Status connected = (*made)->Connect();
  (*made)->Close();
  if (connected.ok()) {
    ADD_FAILURE() << "connected to " << broker.url << ", expected a refusal";
    return "";
  }
  const std::string line = connected.error().message();
  std::cout << "refused: " << line << "\n";
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_THAT(line, ::testing::HasSubstr(display_url));
  bool named = false;
  for (const std::string& reason : reasons) named = named || line.find(reason) != std::string::npos;
  EXPECT_TRUE(named) << "no reason among the expected ones in: " << line;
  ExpectNoSecret(line, secrets);
  for (const std::string& logged : log.Lines()) ExpectNoSecret(logged, secrets);
  return line;
}

void ExpectPasswordFromTheEnvironmentOrAFile(const BrokerEntry& base, const std::string& env_var,
                                             const std::string& secret, const std::string& prefix,
                                             const std::string& display_url,
                                             const std::vector<std::string>& wrong_reasons,
                                             const std::map<std::string, std::string>& wrong_settings) {
  {
    ScopedEnv env(env_var, secret);
    ExpectEchoThrough(base, prefix + ".env", {secret});
  }
  TempDir dir;
  BrokerEntry from_file = base;
  from_file.settings["password_file"] = dir.Write("password", secret + "\n").string();
  ExpectEchoThrough(from_file, prefix + ".file", {secret});
  BrokerEntry wrong = base;
  wrong.settings["password_file"] = dir.Write("wrong-password", "not-" + secret + "\n").string();
  for (const auto& [key, value] : wrong_settings) wrong.settings[key] = value;
  ExpectConnectFails(wrong, display_url, wrong_reasons, {secret, "not-" + secret});
}

std::unique_ptr<ServerProcess> PresentingServer(const std::filesystem::path& cert) {
  const TlsFiles& f = SharedTlsFiles();
  auto server = std::make_unique<ServerProcess>(
      "openssl", std::vector<std::string>{"openssl", "s_server", "-quiet", "-www", "-accept",
                                          "127.0.0.1:$PORT", "-cert", cert.string(), "-key",
                                          f.server_key.string()});
  EXPECT_OK(server->Start());
  return server;
}

ScopedEnv::ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) {
    had_ = true;
    old_ = old;
  }
  ::setenv(name_.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (had_) ::setenv(name_.c_str(), old_.c_str(), 1);
  else ::unsetenv(name_.c_str());
}

}  // namespace ferry::testing
