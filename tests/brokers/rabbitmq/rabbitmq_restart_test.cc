// RabbitMQ killed (SIGKILL) and started again under a running Ferry: the
// host reconnects with backoff, declares its queues and consumers again, and
// every message it accepted before, during or after is handled, because the
// queues are durable, messages persistent, and Publish returns only after
// the publisher confirm. And the other way round: a Ferry host killed (or
// stopped) mid-stream on a durable queue, with a second one taking over.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "brokers/conformance.h"
#include "brokers/registry.h"
#include "support/host_fixture.h"
#include "support/durability.h"
#include "support/rabbitmq_server.h"
#include "support/restart_proof.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

TEST(RabbitMqRestart, NoAcceptedMessageIsLostWhenTheServerIsKilled) {
  RabbitMqServer& server = SharedRabbitMq();
  const std::string url = server.Url();
  RunningHost host("[brokers]\ndefault = { url = \"" + url + "\", max_reconnect_wait_ms = 500 }\n"
                   "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"rr.in\"]\n"
                   "queue_group = \"restart\"\n"
                   "max_attempts = 200\nretry_delay_ms = 50\nmax_retry_delay_ms = 500\n");
  ASSERT_OK(host.start_status());
  // Counted from a durable queue of its own, so what echo sends while the
  // counter reconnects waits for it.
  // Declared before the counter, whose Close reports to them.
  std::mutex states_mutex;
  std::vector<ConnectionState> states;
  auto counter = MakeBroker(url, {{"max_reconnect_wait_ms", "500"}});
  ASSERT_OK(counter);
  (*counter)->OnStateChange([&](ConnectionState s) {
    std::lock_guard lock(states_mutex);
    states.push_back(s);
  });
  ASSERT_OK((*counter)->Connect());
  Sink out;
  auto sub = (*counter)->Subscribe(
      {.pattern = "echo.out", .queue_group = "restart-counter", .manual_ack = false},
      out.Handler());
  ASSERT_OK(sub);
  ASSERT_TRUE(ProbeUntilEchoed([&](const std::string& body) { return host.Publish("rr.in", body); },
                               [&] { return out.Texts(); }, 50ms))
      << "the echo or the counter never came up";

  std::set<std::string> accepted;
  auto publish = [&](int i) {
    const std::string body = "m" + std::to_string(i);
    if (host.Publish("rr.in", body).ok()) accepted.insert(body);
  };
  for (int i = 0; i < 50; ++i) publish(i);
  server.Kill();
  for (int i = 50; i < 60; ++i) publish(i);  // fail at once while down
  ASSERT_OK(server.Start());
  const auto until = Clock::now() + 60s;
  int i = 60;
  while (i < 110 && Clock::now() < until) {
    publish(i);
    if (accepted.count("m" + std::to_string(i))) ++i;
    else std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(i, 110) << "the host did not come back: " << server.LogTail();
  ExpectEveryAcceptedCameOut(accepted, [&] { return out.Texts(); }, 30s);
  EXPECT_GE(accepted.size(), 100u);
  // The counter's own connections went down and came back, and said so.
  std::lock_guard lock(states_mutex);
  ASSERT_GE(states.size(), 4u);
  EXPECT_EQ(states[0], ConnectionState::kConnecting);
  EXPECT_EQ(states[1], ConnectionState::kConnected);
  EXPECT_EQ(states[2], ConnectionState::kReconnecting);
  EXPECT_EQ(states.back(), ConnectionState::kConnected);
}

// The component's queue group makes its queue durable; what the killed host
// had received and not acknowledged goes back to the queue when its
// connection drops, and the second host gets it.
class RabbitMqDurability : public ::testing::TestWithParam<int> {};

TEST_P(RabbitMqDurability, AHostStoppedMidStreamLosesNothing) {
  const std::string url = SharedRabbitMq().Url();
  DurabilityRun run;
  run.brokers_toml = "default = \"" + url + "\"";
  run.broker_url = url;
  run.topic = "dur" + std::to_string(Clock::now().time_since_epoch().count() % 100000000) + ".in";
  run.stop_signal = GetParam();
  ExpectNoLoss(run, "rabbitmq durable queue");
}

INSTANTIATE_TEST_SUITE_P(Signals, RabbitMqDurability, ::testing::Values(SIGKILL, SIGTERM),
                         [](const auto& info) { return info.param == SIGKILL ? "Kill9" : "Sigterm"; });

}  // namespace
}  // namespace ferry::testing
