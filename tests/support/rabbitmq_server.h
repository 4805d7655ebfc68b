// A RabbitMQ node for tests (Debian's rabbitmq-server), on free loopback
// ports, in a folder of its own, with its own epmd. Started as
// /usr/lib/rabbitmq/bin/rabbitmq-server (the /usr/sbin wrapper switches
// user); every rabbitmqctl call gets the same HOME and ERL_EPMD_PORT, so no
// stray epmd is started. Destroying it kills the node, then stops its epmd.
// Beside plain AMQP it listens for AMQP over TLS (amqps://) with the
// certificates of SharedTlsFiles(), asking every client for a certificate
// signed by their CA (mutual TLS).
#pragma once

#include <cstdint>
#include <string>

#include "support/server_process.h"

namespace ferry::testing {

class RabbitMqServer {
 public:
  RabbitMqServer();
  ~RabbitMqServer();
  RabbitMqServer(const RabbitMqServer&) = delete;
  RabbitMqServer& operator=(const RabbitMqServer&) = delete;

  // Starts epmd (if it is not running) and the node, and waits until
  // `rabbitmqctl wait` says it is up. Does nothing while it runs; a node
  // started again keeps its port and its data (durable queues).
  Status Start();
  void Stop();
  // SIGKILL to the node (epmd stays): nothing is flushed.
  void Kill();
  bool running() const { return node_.running(); }

  std::uint16_t port() const { return node_.port(); }
  std::string Url() const { return "amqp://127.0.0.1:" + std::to_string(port()); }
  std::uint16_t tls_port() const { return tls_port_; }
  std::string TlsUrl() const { return "amqps://127.0.0.1:" + std::to_string(tls_port_); }
  // Runs rabbitmqctl with `args` against this node; its output (stdout and
  // stderr), or an error with that output when it exits non-zero.
  Result<std::string> Ctl(const std::string& args) const;
  // The environment rabbitmqctl and the amqp tools need, as "K=V K=V ".
  std::string Env() const;
  std::string LogTail() const { return node_.LogTail(); }

 private:
  ServerProcess epmd_;
  ServerProcess node_;
  std::string name_;
  std::uint16_t tls_port_ = 0;
};

// One node per test process, started on first use and stopped at exit.
RabbitMqServer& SharedRabbitMq();

}  // namespace ferry::testing
