// How a Kafka server for tests and benchmarks is set up: the jars
// scripts/setup.sh caches, the JVM settings, server.properties, and the
// KRaft storage format. No gtest here: the benchmarks use it too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ferry/result.h"

namespace ferry::testing {

struct KafkaPorts {
  std::uint16_t plaintext = 0, controller = 0, sasl = 0;
  // TLS listeners, when not 0 (and KafkaTls is given): `tls` asks every
  // client for a certificate (mutual TLS); `sasl_tls` is SASL/PLAIN (the
  // user below) over TLS that checks only the server.
  std::uint16_t tls = 0, sasl_tls = 0;
};

// PEM files for the TLS listeners: the CA that signs client certificates,
// and the server's certificate followed by its unencrypted PKCS#8 key.
struct KafkaTls {
  std::filesystem::path ca, server_bundle;
};

// ~/.cache/ferry/kafka-jars (tests/support/kafka/pom.xml's dependencies).
std::filesystem::path KafkaJars();

// The user the SASL/PLAIN listener accepts.
inline constexpr const char* kKafkaUser = "ferry";
inline constexpr const char* kKafkaPassword = "s3cret-pass";

// Writes server.properties and log4j2.properties into `dir` (data in
// dir/data) and formats the storage with StorageTool format, under a random
// cluster id made as StorageTool random-uuid makes one.
Status PrepareKafka(const std::filesystem::path& dir, const KafkaPorts& ports,
                    const KafkaTls& tls = {});

// The command that serves from `dir` once prepared ($DIR may stand for it).
std::vector<std::string> KafkaCommand(const std::string& dir);

}  // namespace ferry::testing
