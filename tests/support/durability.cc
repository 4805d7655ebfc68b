#include "support/durability.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "brokers/registry.h"
#include "support/ferry_process.h"
#include "support/matchers.h"

namespace ferry::testing {

using namespace std::chrono_literals;

DurabilityResult ProveNoLoss(const DurabilityRun& run) {
  DurabilityResult result;
  const int total = std::getenv("FERRY_PROOF_MESSAGES") ? std::atoi(std::getenv("FERRY_PROOF_MESSAGES"))
                                                        : run.messages;
  const std::string config = "[brokers]\n" + run.brokers_toml +
                             "\n[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/echo.wasm\"\n"
                             "subscribe = [\"" + run.topic + "\"]\nqueue_group = \"durable-echo\"\n"
                             "max_attempts = 1000\nworkers = 2\n" +
                             (run.extensions.empty() ? "" : "extensions = " + run.extensions + "\n");
  auto broker = MakeBroker(run.broker_url, {});
  EXPECT_OK(broker);
  if (!broker.ok() || !(*broker)->Connect().ok()) return result;
  std::mutex mutex;
  std::map<std::string, int> seen;
  auto counter = (*broker)->Subscribe({.pattern = "echo.out", .manual_ack = false,
                                       .extensions = run.counter_extensions},
                                      [&](Delivery d) {
    std::lock_guard lock(mutex);
    ++seen[std::string(d.message.data.view())];
  });
  EXPECT_OK(counter);
  FerryProcess first(config);
  EXPECT_OK(first.Start());
  FerryProcess second(config);
  auto durable_publisher = [&](const std::string& body) {
    Message m;
    m.topic = run.topic;
    m.data = Bytes::FromString(body);
    return m;
  };
  // Publishing goes through a host-independent connection configured like the hosts'.
  std::map<std::string, std::string> pub_options;
  if (run.broker_url.starts_with("redis")) pub_options = {{"publish", "streams"}};
  if (run.broker_url.starts_with("nats")) pub_options = {{"jetstream", run.topic}};
  if (run.publisher_options) pub_options = *run.publisher_options;
  auto pub = MakeBroker(run.broker_url, pub_options);
  EXPECT_OK(pub);
  if (!pub.ok() || !(*pub)->Connect().ok()) return result;
  for (int i = 0; i < total; ++i) {
    if (i == total / 3) {
      // Mid-stream: the first host goes, a second one takes over.
      if (run.stop_signal == SIGKILL) {
        first.Kill();
      } else {
        result.first_exit = first.Stop();
        EXPECT_EQ(result.first_exit, 0) << first.Log();
      }
      EXPECT_OK(second.Start());
    }
    Status s = (*pub)->Publish(durable_publisher("m" + std::to_string(i)), Clock::now() + 10s);
    EXPECT_OK(s);
    if (s.ok()) ++result.sent;
  }
  const auto until = Clock::now() + 120s;
  while (Clock::now() < until) {
    {
      std::lock_guard lock(mutex);
      if (static_cast<int>(seen.size()) >= result.sent) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(200ms);
  std::lock_guard lock(mutex);
  for (const auto& [body, n] : seen) {
    if (body.empty() || body[0] != 'm') continue;
    ++result.handled;
    result.duplicates += n - 1;
  }
  EXPECT_EQ(second.Stop(), 0) << second.Log();
  return result;
}

void ExpectNoLoss(const DurabilityRun& run, const std::string& label) {
  const DurabilityResult r = ProveNoLoss(run);
  ::testing::Test::RecordProperty("duplicates", r.duplicates);
  std::printf("%s, %s: sent %d, handled %d, duplicates %d\n", label.c_str(),
              run.stop_signal == SIGKILL ? "SIGKILL" : "SIGTERM", r.sent, r.handled, r.duplicates);
  EXPECT_GT(r.sent, 0);
  EXPECT_EQ(r.handled, r.sent);
  if (run.stop_signal == SIGTERM) EXPECT_EQ(r.first_exit, 0);
}

}  // namespace ferry::testing
