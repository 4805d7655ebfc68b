#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/host_fixture.h"

namespace ferry::config {
namespace {

using ::testing::HasSubstr;
using ferry::testing::TempDir;

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() { dir_.Write("echo.wasm", "stand-in"); }
  Result<Config> Parse(const std::string& text) { return ParseConfig(text, dir_.path()); }
  std::string ErrorOf(const std::string& text) {
    auto c = Parse(text);
    return c.ok() ? "<parsed>" : c.error().message();
  }
  TempDir dir_;
};

TEST_F(ConfigTest, FullFile) {
  auto c = Parse(R"(
[host]
control_socket = "ctl.sock"
[limits]
queue_depth = 10
max_request_ms = 500
[brokers]
default = "mem://"
other = { url = "mem://other", queue_capacity = 8 }
[[component]]
name = "e"
path = "echo.wasm"
subscribe = ["a.*", "b.>"]
connect = ["default", "other"]
workers = 3
)");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->host.control_socket, dir_.path() / "ctl.sock");
  EXPECT_EQ(c->limits.queue_depth, 10u);
  EXPECT_EQ(c->limits.max_request_ms, 500u);
  ASSERT_NE(c->FindBroker("other"), nullptr);
  EXPECT_EQ(c->FindBroker("other")->options.at("queue_capacity"), "8");
  ASSERT_EQ(c->components.size(), 1u);
  EXPECT_EQ(c->components[0].path, dir_.path() / "echo.wasm");
  EXPECT_EQ(c->components[0].workers, 3u);
  EXPECT_THAT(c->components[0].subscriptions, ::testing::ElementsAre("a.*", "b.>"));
}

TEST_F(ConfigTest, Defaults) {
  auto c = Parse("[[component]]\npath = \"echo.wasm\"\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->components[0].name, "echo");
  EXPECT_EQ(c->components[0].broker, "default");
  EXPECT_THAT(c->components[0].connect, ::testing::ElementsAre("default"));
  ASSERT_NE(c->FindBroker("default"), nullptr);
  EXPECT_EQ(c->FindBroker("default")->url, "mem://");
}

TEST_F(ConfigTest, ErrorsNameTheKey) {
  EXPECT_EQ(ErrorOf("[[component]]\npath = \"echo.wasm\"\nworkers = \"two\"\n"),
            "ferry.toml:3: component[0].workers: expected an integer from 1 to 256, got \"two\"");
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nsubscibe = [\"x\"]\n"),
              HasSubstr("component[0].subscibe: unknown key"));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"missing.wasm\"\n"),
              HasSubstr("component[0].path: no such file"));
  EXPECT_THAT(ErrorOf("[[component]]\nname = \"x\"\n"), HasSubstr("component[0].path: missing"));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nconnect = [\"nats\"]\n"),
              HasSubstr("component[0].connect[0]: no broker named \"nats\""));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nsubscribe = [\"a..b\"]\n"),
              HasSubstr("component[0].subscribe[0]"));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\n[[component]]\npath = \"echo.wasm\"\n"),
              HasSubstr("another component is already named \"echo\""));
  EXPECT_THAT(ErrorOf("[brokers]\nx = \"not a url\"\n"), HasSubstr("brokers.x: expected a URL"));
  EXPECT_THAT(ErrorOf("[limits]\nqueue_depth = 0\n"), HasSubstr("limits.queue_depth"));
  EXPECT_THAT(ErrorOf("[host\n"), HasSubstr("TOML syntax error"));
}

TEST_F(ConfigTest, MissingFile) {
  auto c = LoadConfig(dir_.path() / "nope.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ferry::config
