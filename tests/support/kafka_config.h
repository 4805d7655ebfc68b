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
};

// ~/.cache/ferry/kafka-jars (tests/support/kafka/pom.xml's dependencies).
std::filesystem::path KafkaJars();

// The user the SASL/PLAIN listener accepts.
inline constexpr const char* kKafkaUser = "ferry";
inline constexpr const char* kKafkaPassword = "s3cret-pass";

// Writes server.properties and log4j2.properties into `dir` (data in
// dir/data) and formats the storage with StorageTool format, under a random
// cluster id made as StorageTool random-uuid makes one.
Status PrepareKafka(const std::filesystem::path& dir, const KafkaPorts& ports);

// The command that serves from `dir` once prepared ($DIR may stand for it).
std::vector<std::string> KafkaCommand(const std::string& dir);

}  // namespace ferry::testing
