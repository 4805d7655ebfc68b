// `ferry status` and `--log-format json` against a `ferry run` process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <thread>

#include "ferry/control.h"
#include "support/ferry_process.h"
#include "support/matchers.h"
#include "support/shell.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kEcho[] = R"([host]
log_format = "json"

[brokers]
default = "mem://"

[[component]]
name = "echo"
path = "$COMPONENTS/echo.wasm"
subscribe = ["echo.in"]

[[component]]
name = "misbehave"
path = "$COMPONENTS/misbehave.wasm"
subscribe = ["misbehave.in"]
max_attempts = 1
)";

TEST(StatusCommand, ShowsDeliveriesBrokersAndTheProcess) {
  FerryProcess ferry(kEcho);
  ASSERT_OK(ferry.Start());
  Message m;
  m.topic = "echo.in";
  m.data = Bytes::FromString("hi");
  for (int i = 0; i < 7; ++i) ASSERT_OK(ControlPublish(ferry.control_socket(), "default", m));

  const std::string status = std::string(FERRY_BINARY) + " status --control " + ferry.control_socket().string();
  // Handled counts arrive shortly after the publishes return.
  nlohmann::json json;
  for (int i = 0; i < 400; ++i) {
    json = nlohmann::json::parse(Shell(status + " --json"), nullptr, false);
    ASSERT_FALSE(json.is_discarded());
    if (json.at("components")[0].at("handled") == 7) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(json.at("ready").get<bool>());
  ASSERT_EQ(json.at("components").size(), 2u);
  EXPECT_EQ(json.at("components")[0].at("name"), "echo");
  EXPECT_EQ(json.at("components")[0].at("received"), 7);
  EXPECT_EQ(json.at("components")[0].at("handled"), 7);
  EXPECT_EQ(json.at("brokers")[0].at("url"), "mem://");
  EXPECT_GT(json.at("process").at("resident_bytes").get<std::uint64_t>(), 1u << 20);

  const std::string table = Shell(status);
  EXPECT_THAT(table, HasSubstr("ready: yes"));
  EXPECT_THAT(table, ::testing::ContainsRegex("echo +7 +7 +0"));
  EXPECT_THAT(table, ::testing::ContainsRegex("default +connected +0 +mem://"));

  EXPECT_THAT(Shell(std::string(FERRY_BINARY) + " status --control /nonexistent/ferry.sock 2>&1; echo \"exit=$?\""),
              ::testing::AllOf(HasSubstr("ferry: "), HasSubstr("exit=1")));
}

TEST(StatusCommand, JsonLogsAreOneObjectPerLine) {
  FerryProcess ferry(kEcho);
  ASSERT_OK(ferry.Start());
  Message fail;
  fail.topic = "misbehave.in";
  fail.data = Bytes::FromString("fail");
  ASSERT_OK(ControlPublish(ferry.control_socket(), "default", fail));
  // The failure is logged by the worker that ran the call.
  for (int i = 0; i < 400 && ferry.Log().find("refused: fail") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(ferry.Stop(), 0);
  std::istringstream lines(ferry.Log());
  std::string line;
  int parsed = 0;
  bool saw_component = false;
  bool saw_failure_in_context = false;
  while (std::getline(lines, line)) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(json.contains("time") && json.contains("level") && json.contains("message")) << line;
    EXPECT_THAT(json.at("time").get<std::string>(), ::testing::MatchesRegex(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"));
    saw_component |= json.at("message").get<std::string>().find("echo") != std::string::npos;
    saw_failure_in_context |= json.value("component", "") == "misbehave" && json.value("topic", "") == "misbehave.in" &&
                              json.at("message").get<std::string>().find("refused: fail") != std::string::npos;
    ++parsed;
  }
  EXPECT_GE(parsed, 3) << ferry.Log();  // -v: start, subscriptions, stop
  EXPECT_TRUE(saw_component) << ferry.Log();
  EXPECT_TRUE(saw_failure_in_context) << ferry.Log();
}

}  // namespace
}  // namespace ferry::testing
