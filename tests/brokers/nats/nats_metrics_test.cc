// Readiness follows the broker: /readyz turns 503 when nats-server goes
// away and 200 again once the connection is back, which the reconnect
// counter records.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "support/host_fixture.h"
#include "support/matchers.h"
#include "support/metrics_page.h"
#include "support/ports.h"
#include "support/server_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Polls /readyz until it answers `status`, for up to 20 s; the last body.
std::string WaitForReadyz(httplib::Client& client, int status) {
  std::string body;
  const auto limit = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < limit) {
    if (auto res = client.Get("/readyz")) {
      body = res->body;
      if (res->status == status) return body;
    }
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "/readyz never answered " << status << "; last: " << body;
  return body;
}

TEST(NatsMetrics, ReadinessFollowsTheBrokerConnection) {
  ServerProcess server("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT"});
  ASSERT_OK(server.Start());
  const std::uint16_t metrics = FreePort();
  RunningHost h("[host]\nmetrics = \"127.0.0.1:" + std::to_string(metrics) + "\"\n" +
                "[brokers]\ndefault = \"nats://127.0.0.1:" + std::to_string(server.port()) + "\"\n" +
                "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"echo.in\"]\n");
  ASSERT_OK(h.start_status());
  httplib::Client client("127.0.0.1", metrics);
  WaitForReadyz(client, 200);

  server.Stop();
  EXPECT_THAT(WaitForReadyz(client, 503), HasSubstr("broker 'default' is"));
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << "the process is alive while its broker is not";

  ASSERT_OK(server.Start());  // the same port again
  EXPECT_EQ(WaitForReadyz(client, 200), "ready\n");
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  auto page = MetricsPage::Parse(res->body);
  ASSERT_OK(page);
  EXPECT_EQ(page->Value("ferry_broker_reconnects_total", {{"broker", "default"}}), 1);
  EXPECT_EQ(page->Value("ferry_broker_state", {{"broker", "default"}, {"state", "connected"}}), 1);
}

}  // namespace
}  // namespace ferry::testing
