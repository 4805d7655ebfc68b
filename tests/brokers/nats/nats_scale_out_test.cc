// Three `ferry run` processes in one queue group on NATS JetStream share
// the work, and when one is killed the others take over: every message
// handled, duplicates counted (docs/RELIABILITY.md, proof 11).
#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>

#include "support/matchers.h"
#include "support/scale_out.h"
#include "support/server_process.h"

namespace ferry::testing {
namespace {

ServerProcess& JetStreamServer() {
  static ServerProcess server("nats-server",
                              {"nats-server", "-a", "127.0.0.1", "-p", "$PORT", "-js", "-sd", "$DIR/js"});
  EXPECT_OK(server.Start());
  return server;
}

DurabilityRun ScaleRun(const std::string& name) {
  const std::string url = "nats://127.0.0.1:" + std::to_string(JetStreamServer().port());
  DurabilityRun run;
  run.topic = name + ".in";
  run.brokers_toml = "default = { url = \"" + url + "\", jetstream = \"" + run.topic + "\" }";
  run.broker_url = url;
  run.extensions = "{ stream = \"" + name + "\", ack_wait_ms = 1000 }";
  run.messages = 20000;
  return run;
}

std::string Split(const ScaleOutResult& r) {
  std::string out;
  for (std::uint64_t n : r.split) out += (out.empty() ? "" : " / ") + std::to_string(n);
  return out;
}

TEST(NatsScaleOut, ThreeHostsInOneQueueGroupShareTheWork) {
  const ScaleOutResult r = ProveScaleOut(ScaleRun("SCALE3"), 3, false);
  std::printf("nats jetstream, 3 hosts: sent %d, handled %d, duplicates %d, split %s\n", r.sent, r.handled,
              r.duplicates, Split(r).c_str());
  ::testing::Test::RecordProperty("split", Split(r));
  EXPECT_GT(r.sent, 0);
  EXPECT_EQ(r.handled, r.sent);
  ASSERT_EQ(r.split.size(), 3u);
  for (std::uint64_t share : r.split) EXPECT_GT(share, 0u) << "a host got no share: " << Split(r);
  EXPECT_GE(std::accumulate(r.split.begin(), r.split.end(), std::uint64_t{0}), static_cast<std::uint64_t>(r.sent));
}

TEST(NatsScaleOut, WhenOneOfThreeIsKilledTheOthersTakeOver) {
  const ScaleOutResult r = ProveScaleOut(ScaleRun("SCALEKILL"), 3, true);
  std::printf("nats jetstream, 3 hosts, one SIGKILLed: sent %d, handled %d, duplicates %d, split %s\n", r.sent,
              r.handled, r.duplicates, Split(r).c_str());
  ::testing::Test::RecordProperty("duplicates", r.duplicates);
  EXPECT_GT(r.sent, 0);
  EXPECT_EQ(r.handled, r.sent);
  ASSERT_EQ(r.split.size(), 3u);
  EXPECT_GT(r.split[1] + r.split[2], 0u);
}

}  // namespace
}  // namespace ferry::testing
