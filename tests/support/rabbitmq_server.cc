#include "support/rabbitmq_server.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "support/matchers.h"
#include "support/tls_certs.h"

namespace ferry::testing {
namespace {

constexpr const char* kRabbitBin = "/usr/lib/rabbitmq/bin/";

}  // namespace

RabbitMqServer::RabbitMqServer()
    : epmd_("epmd", {"epmd", "-port", "$PORT", "-address", "127.0.0.1"}),
      node_("rabbitmq-server", {std::string(kRabbitBin) + "rabbitmq-server"}) {
  epmd_.UsePort(FreePort());
  node_.UsePort(FreePort());
  name_ = "ferry" + std::to_string(node_.port()) + "@localhost";
  const std::string dir = node_.dir().string();
  std::ofstream(node_.dir() / "empty.conf");
  tls_port_ = FreePort();
  const TlsFiles& tls = SharedTlsFiles();
  std::ofstream(node_.dir() / "rabbitmq.conf")
      << "listeners.ssl.default = 127.0.0.1:" << tls_port_ << "\n"
      << "ssl_options.cacertfile = " << tls.ca.string() << "\n"
      << "ssl_options.certfile = " << tls.server_cert.string() << "\n"
      << "ssl_options.keyfile = " << tls.server_key.string() << "\n"
      << "ssl_options.verify = verify_peer\n"
      << "ssl_options.fail_if_no_peer_cert = true\n";
  node_.SetEnv("HOME", dir);
  node_.SetEnv("ERL_EPMD_PORT", std::to_string(epmd_.port()));
  node_.SetEnv("RABBITMQ_NODENAME", name_);
  node_.SetEnv("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1");
  node_.SetEnv("RABBITMQ_NODE_PORT", "$PORT");
  node_.SetEnv("RABBITMQ_DIST_PORT", std::to_string(FreePort()));
  node_.SetEnv("RABBITMQ_MNESIA_BASE", dir + "/mnesia");
  node_.SetEnv("RABBITMQ_LOG_BASE", dir + "/log");
  node_.SetEnv("RABBITMQ_PID_FILE", dir + "/rabbit.pid");
  node_.SetEnv("RABBITMQ_CONF_ENV_FILE", dir + "/empty.conf");
  node_.SetEnv("RABBITMQ_CONFIG_FILE", dir + "/rabbitmq.conf");
  // The script then execs the VM instead of waiting on it, so the VM itself
  // is the process that dies with the test process; -noinput keeps it off
  // the test's stdin.
  node_.SetEnv("RABBITMQ_ALLOW_INPUT", "1");
  node_.SetEnv("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
               "-kernel inet_dist_use_interface {127,0,0,1} -noinput");
  node_.SetStopGrace(std::chrono::seconds(20));
  node_.ReadyWhen([this]() -> Status {
    auto out = Ctl("wait --timeout 60 " + (node_.dir() / "rabbit.pid").string());
    if (!out.ok()) return out.error();
    return Status::Ok();
  });
}

// Its data is a temporary folder that goes too: no need to wait for a
// graceful stop (seconds per test process).
RabbitMqServer::~RabbitMqServer() {
  Kill();
  epmd_.Stop();
}

Status RabbitMqServer::Start() {
  if (node_.running()) return Status::Ok();
  FERRY_RETURN_IF_ERROR(epmd_.Start());
  return node_.Start(std::chrono::seconds(90));
}

void RabbitMqServer::Stop() { node_.Stop(); }

void RabbitMqServer::Kill() { node_.Kill(); }

std::string RabbitMqServer::Env() const {
  const std::string dir = node_.dir().string();
  return "HOME=" + dir + " ERL_EPMD_PORT=" + std::to_string(epmd_.port()) +
         " RABBITMQ_NODENAME=" + name_ + " RABBITMQ_CONF_ENV_FILE=" + dir + "/empty.conf ";
}

Result<std::string> RabbitMqServer::Ctl(const std::string& args) const {
  const std::string command = Env() + kRabbitBin + "rabbitmqctl " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return Error::Internal("cannot run rabbitmqctl");
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error::Internal("rabbitmqctl " + args + " failed: " + out);
  return out;
}

RabbitMqServer& SharedRabbitMq() {
  static RabbitMqServer server;
  EXPECT_OK(server.Start());
  return server;
}

}  // namespace ferry::testing
