// [host].metrics: the Prometheus page after a known workload, health and
// readiness, topic labels folding into "other", and bad addresses.
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <map>
#include <regex>

#include "support/host_fixture.h"
#include "support/matchers.h"
#include "support/metrics_page.h"
#include "support/ports.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

std::string Config(std::uint16_t port, const std::string& extra_host = "") {
  return "[host]\nmetrics = \"127.0.0.1:" + std::to_string(port) + "\"\n" + extra_host + R"(
[brokers]
default = "mem://"

[[component]]
name = "echo"
path = "$COMPONENTS/echo.wasm"
subscribe = ["echo.in"]

[[component]]
name = "misbehave"
path = "$COMPONENTS/misbehave.wasm"
subscribe = ["misbehave.in", "m.>"]
max_attempts = 1
)";
}

TEST(Metrics, APageAfterAKnownWorkloadHasExactCounts) {
  const std::uint16_t port = FreePort();
  RunningHost h(Config(port));
  ASSERT_OK(h.start_status());
  Inbox& echoed = h.Listen("echo.out");
  for (int i = 0; i < 20; ++i) ASSERT_OK(h.Publish("echo.in", "hello " + std::to_string(i)));
  for (int i = 0; i < 3; ++i) ASSERT_OK(h.Publish("misbehave.in", "fail"));
  ASSERT_EQ(echoed.WaitFor(20).size(), 20u);
  ASSERT_EQ(h.SettledStats("echo", 20).handled, 20u);
  ASSERT_EQ(h.SettledStats("misbehave", 3).failed, 3u);

  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << "no answer from the metrics port";
  ASSERT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  auto page = MetricsPage::Parse(res->body);
  ASSERT_OK(page);
  const MetricsPage& m = *page;

  EXPECT_EQ(m.Value("ferry_deliveries_received_total", {{"component", "echo"}}), 20);
  EXPECT_EQ(m.Value("ferry_deliveries_handled_total", {{"component", "echo"}}), 20);
  EXPECT_EQ(m.Value("ferry_deliveries_received_total", {{"component", "misbehave"}}), 3);
  EXPECT_EQ(m.Value("ferry_deliveries_handled_total", {{"component", "misbehave"}}), 0);
  EXPECT_EQ(m.Value("ferry_deliveries_failed_total", {{"component", "misbehave"}, {"reason", "error"}}), 3);
  EXPECT_EQ(m.Value("ferry_deliveries_failed_total", {{"component", "misbehave"}, {"reason", "trap"}}), 0);
  EXPECT_EQ(m.Value("ferry_deliveries_given_up_total", {{"component", "misbehave"}}), 3);
  EXPECT_EQ(m.Value("ferry_deliveries_in_flight", {{"component", "echo"}}), 0);
  EXPECT_EQ(m.Value("ferry_queue_depth", {{"component", "echo"}}), 0);
  // One instance per worker, and one that answered configure.
  EXPECT_GE(m.Value("ferry_instances_created_total", {{"component", "echo"}}), 2);
  EXPECT_EQ(m.Value("ferry_topic_deliveries_received_total", {{"component", "echo"}, {"topic", "echo.in"}}), 20);
  EXPECT_EQ(m.Value("ferry_topic_deliveries_handled_total", {{"component", "echo"}, {"topic", "echo.in"}}), 20);
  EXPECT_EQ(m.Value("ferry_topic_deliveries_failed_total", {{"component", "misbehave"}, {"topic", "misbehave.in"}}),
            3);

  // The histogram: cumulative buckets that never decrease, +Inf = count.
  const auto buckets = m.Samples("ferry_handler_duration_seconds_bucket", {{"component", "echo"}});
  ASSERT_EQ(buckets.size(), 17u);
  double previous = 0;
  for (const auto& [labels, value] : buckets) {
    EXPECT_GE(value, previous) << labels.at("le");
    previous = value;
  }
  EXPECT_EQ(m.Value("ferry_handler_duration_seconds_bucket", {{"component", "echo"}, {"le", "+Inf"}}), 20);
  EXPECT_EQ(m.Value("ferry_handler_duration_seconds_count", {{"component", "echo"}}), 20);
  EXPECT_GT(m.Value("ferry_handler_duration_seconds_sum", {{"component", "echo"}}), 0);
  EXPECT_LT(m.Value("ferry_handler_duration_seconds_sum", {{"component", "echo"}}), 20 * 30.0);

  EXPECT_EQ(m.Value("ferry_broker_state", {{"broker", "default"}, {"state", "connected"}}), 1);
  EXPECT_EQ(m.Value("ferry_broker_state", {{"broker", "default"}, {"state", "disconnected"}}), 0);
  EXPECT_EQ(m.Value("ferry_broker_unconfirmed_publishes", {{"broker", "default"}}), 0);
  EXPECT_EQ(m.Value("ferry_ready", {}), 1);
  EXPECT_GT(m.Value("process_resident_memory_bytes", {}), 1 << 20);
  EXPECT_GT(m.Value("ferry_process_threads", {}), 3);
  EXPECT_GT(m.Value("process_open_fds", {}), 2);
}

TEST(Metrics, HealthReadinessAndStatusAnswer) {
  const std::uint16_t port = FreePort();
  RunningHost h(Config(port));
  ASSERT_OK(h.start_status());
  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");
  auto status = client.Get("/status");
  ASSERT_TRUE(status);
  const auto json = nlohmann::json::parse(status->body);
  EXPECT_TRUE(json.at("ready").get<bool>());
  ASSERT_EQ(json.at("components").size(), 2u);
  EXPECT_EQ(json.at("components")[0].at("name"), "echo");
  EXPECT_EQ(json.at("brokers")[0].at("state"), "connected");

  auto missing = client.Get("/nothing-here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // Stopping: the listener goes with the host.
  h.host().Stop(std::chrono::milliseconds(0));
  EXPECT_FALSE(client.Get("/healthz"));
}

TEST(Metrics, TopicsPastTheLimitAreCountedAsOther) {
  const std::uint16_t port = FreePort();
  RunningHost h(Config(port, "metrics_max_topics = 2\n"));
  ASSERT_OK(h.start_status());
  for (const char* topic : {"m.a", "m.b", "m.c", "m.d", "m.a"}) ASSERT_OK(h.Publish(topic, "x"));
  ASSERT_EQ(h.SettledStats("misbehave", 5).handled, 5u);
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  auto page = MetricsPage::Parse(res->body);
  ASSERT_OK(page);
  const auto topics = page->Samples("ferry_topic_deliveries_received_total", {{"component", "misbehave"}});
  std::map<std::string, double> by_topic;
  for (const auto& [labels, value] : topics) by_topic[labels.at("topic")] = value;
  EXPECT_EQ(by_topic, (std::map<std::string, double>{{"m.a", 2}, {"m.b", 1}, {"other", 2}}));
}

TEST(Metrics, AnAddressThatIsNotHostPortIsRefusedInOneLine) {
  TempDir dir;
  HostOptions options;
  options.config_file = dir.Write("ferry.toml", "[host]\nmetrics = \"9464\"\n");
  auto host = Host::Create(options);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.error().message(), HasSubstr("host.metrics"));
  EXPECT_THAT(host.error().message(), HasSubstr("host:port"));
  EXPECT_EQ(host.error().message().find('\n'), std::string::npos);
}

TEST(Metrics, APortInUseFailsTheStartWithTheAddress) {
  // Hold a port with a listening socket of our own.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t port = ntohs(addr.sin_port);

  RunningHost h(Config(port));
  ::close(fd);
  ASSERT_FALSE(h.start_status().ok());
  EXPECT_THAT(h.start_status().error().message(),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port) + " for metrics"));
}

}  // namespace
}  // namespace ferry::testing
