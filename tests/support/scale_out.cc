#include "support/scale_out.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "brokers/registry.h"
#include "ferry/control.h"
#include "support/ferry_process.h"
#include "support/matchers.h"

namespace ferry::testing {

using namespace std::chrono_literals;

namespace {

// What one host says it handled, through its control socket.
std::uint64_t Handled(const FerryProcess& host) {
  auto status = ControlStatus(host.control_socket());
  if (!status.ok()) return 0;
  const auto json = nlohmann::json::parse(*status, nullptr, false);
  if (json.is_discarded()) return 0;
  return json.at("components")[0].at("handled").get<std::uint64_t>();
}

}  // namespace

ScaleOutResult ProveScaleOut(const DurabilityRun& run, int hosts, bool kill_one) {
  ScaleOutResult result;
  const char* env = std::getenv("FERRY_SCALE_MESSAGES");
  const int total = env ? std::atoi(env) : run.messages;
  const std::string config = "[brokers]\n" + run.brokers_toml +
                             "\n[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/echo.wasm\"\n"
                             "subscribe = [\"" + run.topic + "\"]\nqueue_group = \"workers\"\n"
                             "max_attempts = 1000\n" +
                             (run.extensions.empty() ? "" : "extensions = " + run.extensions + "\n");
  auto counter_broker = MakeBroker(run.broker_url, {});
  EXPECT_OK(counter_broker);
  if (!counter_broker.ok() || !(*counter_broker)->Connect().ok()) return result;
  std::mutex mutex;
  std::map<std::string, int> seen;
  auto counter = (*counter_broker)->Subscribe(
      {.pattern = "echo.out", .manual_ack = false, .extensions = run.counter_extensions}, [&](Delivery d) {
        std::lock_guard lock(mutex);
        ++seen[std::string(d.message.data.view())];
      });
  EXPECT_OK(counter);

  std::vector<std::unique_ptr<FerryProcess>> ferries;
  for (int i = 0; i < hosts; ++i) {
    ferries.push_back(std::make_unique<FerryProcess>(config));
    EXPECT_OK(ferries.back()->Start());
  }
  std::map<std::string, std::string> pub_options{{"jetstream", run.topic}};
  if (run.publisher_options) pub_options = *run.publisher_options;
  auto pub = MakeBroker(run.broker_url, pub_options);
  EXPECT_OK(pub);
  if (!pub.ok() || !(*pub)->Connect().ok()) return result;
  std::uint64_t killed_share = 0;
  for (int i = 0; i < total; ++i) {
    if (kill_one && i == total / 3) {
      killed_share = Handled(*ferries[0]);
      ferries[0]->Kill();
    }
    Message m;
    m.topic = run.topic;
    m.data = Bytes::FromString("s" + std::to_string(i));
    Status s = (*pub)->Publish(m, Clock::now() + 10s);
    EXPECT_OK(s);
    if (s.ok()) ++result.sent;
  }
  const auto until = Clock::now() + 180s;
  while (Clock::now() < until) {
    {
      std::lock_guard lock(mutex);
      if (static_cast<int>(seen.size()) >= result.sent) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(200ms);
  for (std::size_t i = 0; i < ferries.size(); ++i)
    result.split.push_back(kill_one && i == 0 ? killed_share : Handled(*ferries[i]));
  {
    std::lock_guard lock(mutex);
    for (const auto& [body, n] : seen) {
      if (body.empty() || body[0] != 's') continue;
      ++result.handled;
      result.duplicates += n - 1;
    }
  }
  for (std::size_t i = kill_one ? 1 : 0; i < ferries.size(); ++i)
    EXPECT_EQ(ferries[i]->Stop(), 0) << ferries[i]->Log();
  return result;
}

}  // namespace ferry::testing
