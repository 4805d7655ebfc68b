#include "support/kafka_config.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

namespace ferry::testing {
namespace {

std::filesystem::path JarsDir() {
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/root") / ".cache/ferry/kafka-jars";
}

// JVM settings that start Kafka in about 2 s with about 160 MB resident.
const char* const kJvm = "-Xms32m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1";

// Runs a command and returns its output and whether it exited 0.
std::pair<bool, std::string> Run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {false, out};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  return {::pclose(p) == 0, out};
}

std::string Jaas() {
  return "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" +
         std::string(kKafkaUser) + "\" password=\"" + kKafkaPassword + "\" user_" + kKafkaUser +
         "=\"" + kKafkaPassword + "\";";
}

// The TLS listeners' part of server.properties (none without ports or files).
std::string TlsProperties(const KafkaPorts& ports, const KafkaTls& tls) {
  if (ports.tls == 0 || ports.sasl_tls == 0 || tls.ca.empty()) return "";
  std::string out;
  for (const char* name : {"ssl", "sasl_ssl"}) {
    const std::string prefix = "listener.name." + std::string(name) + ".ssl.";
    out += prefix + "keystore.type=PEM\n" + prefix + "keystore.location=" +
           tls.server_bundle.string() + "\n" + prefix + "truststore.type=PEM\n" + prefix +
           "truststore.location=" + tls.ca.string() + "\n";
  }
  return out + "listener.name.ssl.ssl.client.auth=required\n"
               "listener.name.sasl_ssl.plain.sasl.jaas.config=" + Jaas() + "\n";
}

std::string Properties(const std::filesystem::path& dir, const KafkaPorts& ports,
                       const KafkaTls& tls) {
  const std::string p = std::to_string(ports.plaintext), c = std::to_string(ports.controller),
                    s = std::to_string(ports.sasl);
  const std::string extra = TlsProperties(ports, tls);
  const std::string tls_listeners =
      extra.empty() ? "" : ",SSL://127.0.0.1:" + std::to_string(ports.tls) +
                               ",SASL_SSL://127.0.0.1:" + std::to_string(ports.sasl_tls);
  return extra +
         "process.roles=broker,controller\n"
         "node.id=1\n"
         "controller.quorum.voters=1@127.0.0.1:" + c + "\n"
         "listeners=PLAINTEXT://127.0.0.1:" + p + ",CONTROLLER://127.0.0.1:" + c +
         ",SASL_PLAINTEXT://127.0.0.1:" + s + tls_listeners + "\n"
         "advertised.listeners=PLAINTEXT://127.0.0.1:" + p + ",SASL_PLAINTEXT://127.0.0.1:" + s +
         tls_listeners + "\n"
         "controller.listener.names=CONTROLLER\n"
         "inter.broker.listener.name=PLAINTEXT\n"
         "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
         "SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL\n"
         "sasl.enabled.mechanisms=PLAIN\n"
         "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + Jaas() + "\n"
         "log.dirs=" + (dir / "data").string() + "\n"
         "num.partitions=4\n"
         "auto.create.topics.enable=true\n"
         "default.replication.factor=1\n"
         "min.insync.replicas=1\n"
         "offsets.topic.replication.factor=1\n"
         "offsets.topic.num.partitions=4\n"
         "transaction.state.log.replication.factor=1\n"
         "transaction.state.log.min.isr=1\n"
         "share.coordinator.state.topic.replication.factor=1\n"
         "share.coordinator.state.topic.min.isr=1\n"
         "group.initial.rebalance.delay.ms=0\n"
         "group.min.session.timeout.ms=1000\n"
         // The default 128 MB dedupe buffer does not fit the small heap.
         "log.cleaner.dedupe.buffer.size=4194304\n"
         "delete.topic.enable=true\n"
         // Records up to 8 MB (the conformance suite sends 1 MiB payloads).
         "message.max.bytes=8388608\n"
         "replica.fetch.max.bytes=8388608\n";
}

const char* const kLog4j =
    "status = warn\n"
    "appender.out.type = Console\n"
    "appender.out.name = OUT\n"
    "appender.out.layout.type = PatternLayout\n"
    "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
    "rootLogger.level = warn\n"
    "rootLogger.appenderRef.out.ref = OUT\n";

// What StorageTool random-uuid prints, without a JVM run for it: 16 random
// bytes in URL-safe base64 without padding (22 characters).
std::string ClusterId() {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::uint8_t bytes[16];
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rd());
  std::string out;
  std::uint32_t bits = 0;
  int held = 0;
  for (std::uint8_t b : bytes) {
    bits = (bits << 8) | b;
    held += 8;
    while (held >= 6) {
      held -= 6;
      out += kAlphabet[(bits >> held) & 63];
    }
  }
  if (held > 0) out += kAlphabet[(bits << (6 - held)) & 63];
  // Kafka's own ids never start with '-' (it would read as an option).
  return out[0] == '-' ? ClusterId() : out;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  if (std::FILE* f = std::fopen(path.c_str(), "w")) {
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
}

}  // namespace

std::filesystem::path KafkaJars() { return JarsDir(); }

std::vector<std::string> KafkaCommand(const std::string& dir) {
  return {"java", "-Xms32m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
          "-Dlog4j2.configurationFile=" + dir + "/log4j2.properties", "-cp",
          (JarsDir() / "*").string(), "kafka.Kafka", dir + "/server.properties"};
}

Status PrepareKafka(const std::filesystem::path& dir, const KafkaPorts& ports, const KafkaTls& tls) {
  WriteFile(dir / "server.properties", Properties(dir, ports, tls));
  WriteFile(dir / "log4j2.properties", kLog4j);
  if (!std::filesystem::exists(JarsDir()))
    return Error::NotFound("the Kafka jars are missing in " + JarsDir().string() +
                           " (scripts/setup.sh fetches them)");
  const std::string java = "java " + std::string(kJvm) + " -Dlog4j2.configurationFile=" +
                           (dir / "log4j2.properties").string() + " -cp '" +
                           (JarsDir() / "*").string() + "' kafka.tools.StorageTool ";
  auto [format_ok, out] = Run(java + "format -t " + ClusterId() + " -c " + (dir / "server.properties").string());
  if (!format_ok) return Error::Internal("kafka StorageTool format failed: " + out);
  return Status::Ok();
}

}  // namespace ferry::testing
