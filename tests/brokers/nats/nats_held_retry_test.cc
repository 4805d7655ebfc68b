// Retries Ferry holds itself on core NATS, which cannot redeliver: at
// shutdown each one runs within the grace period or goes to the dead-letter
// topic with reason `shutdown`, and never counts as released; a reload
// hands them to the next host.
#include <gtest/gtest.h>

#include <thread>

#include "brokers/registry.h"
#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/server_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

ServerProcess& Server() {
  static ServerProcess server("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT"});
  EXPECT_OK(server.Start());
  return server;
}

std::string Url() { return "nats://127.0.0.1:" + std::to_string(Server().port()); }

// The misbehave component on core NATS: "fail" always fails.
std::string Config(const std::string& topic, int retry_delay_ms, bool dead_letter,
                   int max_attempts = 3) {
  return "[brokers]\ndefault = \"" + Url() + "\"\n"
         "[[component]]\npath = \"$COMPONENTS/misbehave.wasm\"\n"
         "subscribe = [\"" + topic + "\"]\nmax_attempts = " + std::to_string(max_attempts) +
         "\nretry_delay_ms = " + std::to_string(retry_delay_ms) + "\n" +
         (dead_letter ? "dead_letter = \"" + topic + ".dead\"\n" : "");
}

// Listens on a connection of its own: the host's broker closes with it.
struct Watcher {
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Subscription> sub;
  Inbox inbox;
  explicit Watcher(const std::string& pattern) {
    auto made = MakeBroker(Url(), {});
    EXPECT_OK(made);
    broker = std::move(made).value();
    EXPECT_OK(broker->Connect());
    SubscribeOptions options;
    options.pattern = pattern;
    options.manual_ack = false;
    auto s = broker->Subscribe(options, [this](Delivery d) { inbox.Add(d.message); });
    EXPECT_OK(s);
    sub = std::move(s).value();
  }
  ~Watcher() {
    sub.reset();
    broker->Close();
  }
};

ComponentStats FinalStats(Host& host) {
  auto stats = host.Stats();
  EXPECT_EQ(stats.size(), 1u);
  return stats.empty() ? ComponentStats{} : stats[0];
}

TEST(HeldRetry, DueAfterTheGracePeriodIsDeadLetteredWithReasonShutdown) {
  Watcher dead("hold.late.dead");
  RunningHost host(Config("hold.late", 60000, true));
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("hold.late", "fail"));
  host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.failed == 1; });

  host.host().Stop(2s);
  auto got = dead.inbox.WaitFor(1, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].metadata.Get("ferry-dead-letter-reason"), "shutdown");
  EXPECT_EQ(got[0].metadata.Get("ferry-attempts"), "1");
  EXPECT_EQ(got[0].metadata.Get("ferry-original-topic"), "hold.late");
  EXPECT_EQ(Text(got[0]), "fail");
  auto s = FinalStats(host.host());
  EXPECT_EQ(s.released, 0u);
  EXPECT_EQ(s.given_up, 1u);
  EXPECT_EQ(s.dead_lettered, 1u);
}

TEST(HeldRetry, DueWithinTheGracePeriodRunsBeforeTheHostStops) {
  Watcher dead("hold.soon.dead");
  RunningHost host(Config("hold.soon", 1000, true));
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("hold.soon", "fail"));
  host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.failed == 1; });

  host.host().Stop(5s);
  auto s = FinalStats(host.host());
  EXPECT_EQ(s.failed, 2u);  // it ran again, and failed again
  EXPECT_EQ(s.released, 0u);
  auto got = dead.inbox.WaitFor(1, 10s);
  ASSERT_EQ(got.size(), 1u);
  // Attempts were left, but no host to make them.
  EXPECT_EQ(got[0].metadata.Get("ferry-dead-letter-reason"), "shutdown");
  EXPECT_EQ(got[0].metadata.Get("ferry-attempts"), "2");
}

TEST(HeldRetry, WithoutADeadLetterTopicItIsLoggedAndGivenUpNotReleased) {
  LogCapture log;
  RunningHost host(Config("hold.none", 60000, false));
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("hold.none", "fail"));
  host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.failed == 1; });

  host.host().Stop(1s);
  auto s = FinalStats(host.host());
  EXPECT_EQ(s.released, 0u);
  EXPECT_EQ(s.given_up, 1u);
  EXPECT_EQ(s.dead_lettered, 0u);
  EXPECT_EQ(log.Count("failed (shutdown: the host stopped before attempt 2)"), 1u);
}

TEST(HeldRetry, AReloadHandsItToTheNextHost) {
  Watcher dead("hold.reload.dead");
  const std::string config = Config("hold.reload", 1500, true, 2);
  std::vector<HeldRetry> held;
  {
    RunningHost before(config);
    ASSERT_OK(before.start_status());
    ASSERT_OK(before.Publish("hold.reload", "fail"));
    before.WaitForStats("misbehave", [](const ComponentStats& s) { return s.failed == 1; });
    held = before.host().StopForReload(1s, before.host().ComponentNames());
    auto s = FinalStats(before.host());
    EXPECT_EQ(s.released, 0u);
    EXPECT_EQ(s.given_up, 0u);
  }
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].component, "misbehave");
  EXPECT_EQ(held[0].attempt, 2u);
  EXPECT_LE(held[0].delay, 1800ms);

  RunningHost after(config);
  ASSERT_OK(after.start_status());
  after.host().AdoptRetries(std::move(held));
  // The second and last attempt is made by the new host.
  auto s = after.WaitForStats("misbehave", [](const ComponentStats& s) { return s.dead_lettered == 1; });
  EXPECT_EQ(s.failed, 1u);
  auto got = dead.inbox.WaitFor(1, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].metadata.Get("ferry-dead-letter-reason"), "error");
  EXPECT_EQ(got[0].metadata.Get("ferry-attempts"), "2");
}

// The hold is bounded by the component's queue depth: a handler that fails
// everything, with retries an hour away, makes the host stop taking more
// from the broker instead of holding every message it is sent.
TEST(HeldRetry, HeldRetriesCountAgainstTheQueueDepth) {
  RunningHost host("[limits]\nqueue_depth = 4\n" + Config("hold.full", 3600000, true));
  ASSERT_OK(host.start_status());
  for (int i = 0; i < 30; ++i) ASSERT_OK(host.Publish("hold.full", "fail"));
  host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.failed >= 4; });
  std::this_thread::sleep_for(500ms);
  const ComponentStats s = host.StatsOf("misbehave");
  // At most four held, four queued behind them and one with the worker: far
  // from the thirty sent (without the bound every one is taken and held).
  EXPECT_LE(s.received, 9u);
  EXPECT_EQ(s.received, s.failed);
  host.host().Stop(200ms);
}

}  // namespace
}  // namespace ferry::testing
