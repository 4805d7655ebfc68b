// An Apache Kafka server for tests: Kafka 4.1.1 in KRaft mode (broker and
// controller in one process, no ZooKeeper) from the jars scripts/setup.sh
// caches in ~/.cache/ferry/kafka-jars, on free loopback ports, in a folder
// of its own. Topics are created on first use, with 4 partitions. Beside
// plaintext and SASL/PLAIN it listens for TLS with the certificates of
// SharedTlsFiles(): mutual TLS (TlsUrl) and SASL/PLAIN over TLS (SaslTlsUrl).
#pragma once

#include <cstdint>
#include <string>

#include "support/kafka_config.h"
#include "support/server_process.h"

namespace ferry::testing {

class KafkaServer {
 public:
  // A SASL/PLAIN listener beside the plaintext one accepts this user.
  static constexpr const char* kUser = "ferry";  // = kKafkaUser
  static constexpr const char* kPassword = "s3cret-pass";

  // Writes server.properties and formats the storage (a JVM run of
  // StorageTool format); Start runs the server.
  KafkaServer();
  KafkaServer(const KafkaServer&) = delete;
  KafkaServer& operator=(const KafkaServer&) = delete;

  // Starts (on the same ports and data after a Stop or Kill) and waits until
  // a metadata request succeeds.
  Status Start();
  void Stop() { process_.Stop(); }
  void Kill() { process_.Kill(); }

  std::string Url() const { return "kafka://127.0.0.1:" + std::to_string(port_); }
  std::string SaslUrl() const { return "kafka://127.0.0.1:" + std::to_string(sasl_port_); }
  std::string TlsUrl() const { return "kafka://127.0.0.1:" + std::to_string(ports_.tls); }
  std::string SaslTlsUrl() const { return "kafka://127.0.0.1:" + std::to_string(ports_.sasl_tls); }
  std::uint16_t port() const { return port_; }
  std::string LogTail() const { return process_.LogTail(); }

 private:
  ServerProcess process_;
  std::uint16_t port_ = 0, controller_port_ = 0, sasl_port_ = 0;
  KafkaPorts ports_;
  Status prepared_;
};

// One server per test process, started on first use and stopped at exit.
KafkaServer& SharedKafka();

}  // namespace ferry::testing
