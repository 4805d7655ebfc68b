#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/host_fixture.h"

namespace ferry::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ferry::testing::TempDir;

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() { dir_.Write("echo.wasm", "stand-in"); }
  Result<Config> Parse(const std::string& text) { return ParseConfig(text, dir_.path()); }
  // The error's message; every config error is one line.
  std::string ErrorOf(const std::string& text) {
    auto c = Parse(text);
    if (c.ok()) return "<parsed>";
    EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(c.error().message().find('\n'), std::string::npos) << c.error().message();
    return c.error().message();
  }
  TempDir dir_;
};

TEST_F(ConfigTest, FullFile) {
  dir_.Write("other.wasm", "stand-in");
  auto c = Parse(R"(
[host]
log_level = "debug"
control_socket = "ctl.sock"
cache_dir = "/var/cache/ferry"
max_control_connections = 8

[limits]
max_message_bytes = 1024
max_metadata_bytes = 256
queue_depth = 10
max_request_ms = 500
handler_timeout_ms = 700

[brokers]
default = "mem://"
other = { url = "mem://other", queue_capacity = 8, verbose = true, user = "x" }

[[component]]
name = "e"
path = "echo.wasm"
broker = "other"
subscribe = ["a.*", "b.>"]
queue_group = "workers"
connect = ["default", "other"]
workers = 3

[[component]]
path = ")" + (dir_.path() / "other.wasm").string() + R"("
)");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->host.log_level, "debug");
  EXPECT_EQ(c->host.control_socket, dir_.path() / "ctl.sock");
  EXPECT_EQ(c->host.cache_dir, "/var/cache/ferry");
  EXPECT_EQ(c->host.max_control_connections, 8u);
  EXPECT_EQ(c->limits.max_message_bytes, 1024u);
  EXPECT_EQ(c->limits.max_metadata_bytes, 256u);
  EXPECT_EQ(c->limits.queue_depth, 10u);
  EXPECT_EQ(c->limits.max_request_ms, 500u);
  EXPECT_EQ(c->limits.handler_timeout_ms, 700u);

  ASSERT_EQ(c->brokers.size(), 2u);
  EXPECT_EQ(c->FindBroker("default")->url, "mem://");
  const BrokerConfig* other = c->FindBroker("other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->url, "mem://other");
  EXPECT_EQ(other->options,
            (std::map<std::string, std::string>{{"queue_capacity", "8"}, {"verbose", "true"},
                                                {"user", "x"}}));

  ASSERT_EQ(c->components.size(), 2u);
  const ComponentConfig& e = c->components[0];
  EXPECT_EQ(e.name, "e");
  EXPECT_EQ(e.path, dir_.path() / "echo.wasm");
  EXPECT_EQ(e.broker, "other");
  EXPECT_THAT(e.subscriptions, ElementsAre("a.*", "b.>"));
  EXPECT_EQ(e.queue_group, "workers");
  EXPECT_THAT(e.connect, ElementsAre("default", "other"));
  EXPECT_EQ(e.workers, 3u);
  EXPECT_EQ(c->components[1].name, "other");
  EXPECT_EQ(c->components[1].path, dir_.path() / "other.wasm");
}

TEST_F(ConfigTest, Defaults) {
  auto c = Parse("[[component]]\npath = \"echo.wasm\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->host.log_level, "warn");
  EXPECT_TRUE(c->host.control_socket.empty());
  EXPECT_TRUE(c->host.cache_dir.empty());
  EXPECT_EQ(c->host.max_control_connections, 64u);
  EXPECT_EQ(c->limits.max_message_bytes, 8u << 20);
  EXPECT_EQ(c->limits.queue_depth, 1024u);
  const ComponentConfig& e = c->components[0];
  EXPECT_EQ(e.name, "echo");
  EXPECT_EQ(e.broker, "default");
  EXPECT_THAT(e.connect, ElementsAre("default"));
  EXPECT_TRUE(e.subscriptions.empty());
  EXPECT_TRUE(e.queue_group.empty());
  EXPECT_EQ(e.workers, 1u);
  ASSERT_EQ(c->brokers.size(), 1u);
  EXPECT_EQ(c->brokers[0].name, "default");
  EXPECT_EQ(c->brokers[0].url, "mem://");

  auto empty = Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->components.empty());
  ASSERT_NE(empty->FindBroker("default"), nullptr);
}

TEST_F(ConfigTest, DefaultBrokerCanBeReplaced) {
  auto c = Parse("[brokers]\ndefault = \"nats://127.0.0.1:4222\"\n"
                 "[[component]]\npath = \"echo.wasm\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->brokers.size(), 1u);
  EXPECT_EQ(c->FindBroker("default")->url, "nats://127.0.0.1:4222");
  // connect defaults to the component's own broker.
  auto own = Parse(
      "[brokers]\nq = \"mem://q\"\n[[component]]\npath = \"echo.wasm\"\nbroker = \"q\"\n");
  ASSERT_TRUE(own.ok()) << own.error().message();
  EXPECT_THAT(own->components[0].connect, ElementsAre("q"));
}

TEST_F(ConfigTest, WrongValuesNameTheKeyAndLine) {
  EXPECT_EQ(ErrorOf("[[component]]\npath = \"echo.wasm\"\nworkers = \"two\"\n"),
            "ferry.toml:3: component[0].workers: expected an integer from 1 to 256, got \"two\"");
  EXPECT_EQ(ErrorOf("[[component]]\npath = \"echo.wasm\"\nworkers = 300\n"),
            "ferry.toml:3: component[0].workers: expected an integer from 1 to 256, got 300");
  EXPECT_EQ(ErrorOf("[[component]]\npath = \"echo.wasm\"\nworkers = true\n"),
            "ferry.toml:3: component[0].workers: expected an integer from 1 to 256, got true");
  EXPECT_EQ(ErrorOf("[host]\nlog_level = 3\n"),
            "ferry.toml:2: host.log_level: expected a string, got 3");
  EXPECT_EQ(ErrorOf("[host]\nlog_level = \"loud\"\n"),
            "ferry.toml:2: host.log_level: expected off, error, warn, info, debug or trace, "
            "got \"loud\"");
  EXPECT_EQ(ErrorOf("[host]\ncache_dir = \"\"\n"),
            "ferry.toml:2: host.cache_dir: must not be empty");
  EXPECT_EQ(ErrorOf("host = 1\n"), "ferry.toml:1: host: expected a table");
  EXPECT_EQ(ErrorOf("[host]\nmax_control_connections = 0\n"),
            "ferry.toml:2: host.max_control_connections: expected an integer from 1 to 4096, "
            "got 0");
  EXPECT_EQ(ErrorOf("[limits]\nqueue_depth = 0\n"),
            "ferry.toml:2: limits.queue_depth: expected an integer from 1 to 1048576, got 0");
  EXPECT_THAT(ErrorOf("[limits]\nmax_request_ms = -5\n"), HasSubstr("limits.max_request_ms"));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nsubscribe = \"a\"\n"),
              HasSubstr("component[0].subscribe: expected an array of strings, got \"a\""));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nsubscribe = [\"a\", 2]\n"),
              HasSubstr("component[0].subscribe[1]: expected a non-empty string, got 2"));
  EXPECT_THAT(ErrorOf("component = 1\n"), HasSubstr("component: expected [[component]] tables"));
}

TEST_F(ConfigTest, AllowHttpPatterns) {
  auto c = Parse(
      "[[component]]\npath = \"echo.wasm\"\n"
      "allow_http = [\"*\", \"127.0.0.1:8080\", \"api.example.com:*\", \"*.example.com:443\", \"[::1]:80\"]\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_THAT(c->components[0].allow_http,
              ElementsAre("*", "127.0.0.1:8080", "api.example.com:*", "*.example.com:443", "[::1]:80"));
  // No grant: no HTTP.
  auto none = Parse("[[component]]\npath = \"echo.wasm\"\n");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->components[0].allow_http.empty());

  const std::string head = "[[component]]\npath = \"echo.wasm\"\nallow_http = ";
  EXPECT_EQ(ErrorOf(head + "[\"127.0.0.1:8080\", \"example.com\"]\n"),
            "ferry.toml:3: component[0].allow_http[1]: \"example.com\" has no port; expected \"*\", "
            "\"host:port\", \"host:*\" or \"*.domain:port\"");
  EXPECT_THAT(ErrorOf(head + "[\"example.com:http\"]\n"),
              HasSubstr("component[0].allow_http[0]: \"example.com:http\" has a port that is neither"));
  EXPECT_THAT(ErrorOf(head + "[\"example.com:70000\"]\n"), HasSubstr("has a port outside 1-65535"));
  EXPECT_THAT(ErrorOf(head + "[\"example.com:0\"]\n"), HasSubstr("has a port outside 1-65535"));
  EXPECT_THAT(ErrorOf(head + "[\"*:80\"]\n"), HasSubstr("has a host that is not a name"));
  EXPECT_THAT(ErrorOf(head + "[\"a*b.com:80\"]\n"), HasSubstr("has a host that is not a name"));
  EXPECT_THAT(ErrorOf(head + "[\"http://example.com:80\"]\n"), HasSubstr("component[0].allow_http[0]"));
  EXPECT_THAT(ErrorOf(head + "[\":80\"]\n"), HasSubstr("has no host"));
  EXPECT_EQ(ErrorOf(head + "[8080]\n"),
            "ferry.toml:3: component[0].allow_http[0]: expected a non-empty string, got 8080");
  EXPECT_EQ(ErrorOf(head + "\"*\"\n"),
            "ferry.toml:3: component[0].allow_http: expected an array of strings, got \"*\"");
}

TEST_F(ConfigTest, MissingValues) {
  EXPECT_EQ(ErrorOf("[[component]]\nname = \"x\"\n"), "ferry.toml:1: component[0].path: missing");
  EXPECT_EQ(ErrorOf("[brokers]\norders = { user = \"x\" }\n"),
            "ferry.toml:2: brokers.orders.url: missing");
}

TEST_F(ConfigTest, UnknownKeysAreErrors) {
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nsubscibe = [\"x\"]\n"),
              StartsWith("ferry.toml:3: component[0].subscibe: unknown key (allowed: name, path"));
  EXPECT_THAT(ErrorOf("[host]\nlog-level = \"info\"\n"),
              StartsWith("ferry.toml:2: host.log-level: unknown key"));
  EXPECT_THAT(ErrorOf("[limit]\nqueue_depth = 1\n"), HasSubstr("limit: unknown key"));
  EXPECT_THAT(ErrorOf("[limits]\nqueue = 1\n"), HasSubstr("limits.queue: unknown key"));
}

TEST_F(ConfigTest, Brokers) {
  EXPECT_EQ(ErrorOf("[brokers]\nx = \"not a url\"\n"),
            "ferry.toml:2: brokers.x: expected a URL like mem:// or nats://host:4222, "
            "got \"not a url\"");
  EXPECT_THAT(ErrorOf("[brokers]\nx = 5\n"),
              HasSubstr("brokers.x: expected a URL string or a table with url"));
  EXPECT_THAT(ErrorOf("[brokers]\nx = { url = \"mem://\", hosts = [\"a\"] }\n"),
              HasSubstr("brokers.x.hosts: expected a string, integer or boolean"));
  EXPECT_THAT(ErrorOf("[brokers]\nx = { url = 5 }\n"),
              HasSubstr("brokers.x.url: expected a string, got 5"));
  EXPECT_THAT(ErrorOf("brokers = [\"mem://\"]\n"), HasSubstr("brokers: expected a table"));
  EXPECT_THAT(ErrorOf("[brokers]\n\"\" = \"mem://\"\n"), HasSubstr("must not be empty"));
}

TEST_F(ConfigTest, ComponentReferences) {
  EXPECT_EQ(ErrorOf("[[component]]\npath = \"echo.wasm\"\nconnect = [\"nats\"]\n"),
            "ferry.toml:3: component[0].connect[0]: no broker named \"nats\" in [brokers]");
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nbroker = \"nats\"\n"),
              HasSubstr("component[0].broker: no broker named \"nats\""));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nsubscribe = [\"ok\",\n \"a..b\"]\n"),
              StartsWith("ferry.toml:4: component[0].subscribe[1]: "));
  EXPECT_EQ(ErrorOf("[[component]]\npath = \"echo.wasm\"\n[[component]]\npath = \"echo.wasm\"\n"),
            "ferry.toml:3: component[1].name: another component is already named \"echo\"");
  EXPECT_THAT(ErrorOf("[[component]]\nname = \"a\"\npath = \"echo.wasm\"\n"
                      "[[component]]\nname = \"a\"\npath = \"echo.wasm\"\n"),
              StartsWith("ferry.toml:5: component[1].name: another component"));
  EXPECT_EQ(ErrorOf("[[component]]\npath = \"missing.wasm\"\n"),
            "ferry.toml:2: component[0].path: no such file: " +
                (dir_.path() / "missing.wasm").string());
}

TEST_F(ConfigTest, SyntaxErrorsHaveLineAndColumn) {
  EXPECT_THAT(ErrorOf("[host]\nlog_level = \"warn\n"), StartsWith("ferry.toml:2:"));
  EXPECT_THAT(ErrorOf("[host\n"),
              ::testing::MatchesRegex("ferry\\.toml:1:[0-9]+: TOML syntax error: .+"));
  EXPECT_THAT(ErrorOf("a = 1\na = 2\n"), HasSubstr("TOML syntax error"));
}

TEST_F(ConfigTest, ValuesShownInErrorsStayOnOneLine) {
  EXPECT_THAT(ErrorOf("[host]\nlog_level = \"\"\"two\nlines\"\"\"\n"),
              HasSubstr("\"two\\nlines\""));
}

TEST_F(ConfigTest, LoadResolvesPathsAgainstTheFilesFolder) {
  std::filesystem::create_directories(dir_.path() / "conf");
  const auto file = dir_.Write("conf/ferry.toml",
                               "[host]\ncontrol_socket = \"run/ctl.sock\"\ncache_dir = \"cache\"\n"
                               "[[component]]\npath = \"../echo.wasm\"\n");
  auto c = LoadConfig(file);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->host.control_socket, dir_.path() / "conf" / "run" / "ctl.sock");
  EXPECT_EQ(c->host.cache_dir, dir_.path() / "conf" / "cache");
  EXPECT_EQ(c->components[0].path, dir_.path() / "echo.wasm");
  EXPECT_EQ(c->components[0].name, "echo");
}

TEST_F(ConfigTest, LoadErrorsStartWithTheFileName) {
  const auto file = dir_.Write("mine.toml", "[[component]]\npath = \"echo.wasm\"\nworkers = 0\n");
  auto c = LoadConfig(file);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message(), StartsWith("mine.toml:3: component[0].workers: "));
}

TEST_F(ConfigTest, MissingOrUnreadableFile) {
  const auto missing = dir_.path() / "nope.toml";
  auto c = LoadConfig(missing);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(c.error().message(), StartsWith(missing.string() + ": cannot read"));

  auto folder = LoadConfig(dir_.path());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(folder.error().message(), HasSubstr(dir_.path().string()));
}

TEST_F(ConfigTest, ComponentExtensionsReachTheAdapterAsStrings) {
  auto c = Parse(R"(
[[component]]
path = "echo.wasm"
subscribe = ["orders.>"]
extensions = { stream = "ORDERS", durable = "billing", max_deliver = 5, ack_sync = false }
)");
  ASSERT_OK(c);
  const auto& e = c->components[0].extensions;
  EXPECT_EQ(e.at("stream"), "ORDERS");
  EXPECT_EQ(e.at("durable"), "billing");
  EXPECT_EQ(e.at("max_deliver"), "5");
  EXPECT_EQ(e.at("ack_sync"), "false");
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nextensions = 3\n"),
              HasSubstr("component[0].extensions: expected a table of broker settings"));
  EXPECT_THAT(ErrorOf("[[component]]\npath = \"echo.wasm\"\nextensions = { a = [1] }\n"),
              HasSubstr("component[0].extensions.a: expected a string, integer or boolean"));
}

TEST_F(ConfigTest, SingleComponent) {
  auto c = SingleComponentConfig(dir_.path() / "echo.wasm", {"echo.in", "orders.*"});
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->components.size(), 1u);
  const ComponentConfig& e = c->components[0];
  EXPECT_EQ(e.name, "echo");
  EXPECT_EQ(e.path, dir_.path() / "echo.wasm");
  EXPECT_EQ(e.broker, "default");
  EXPECT_THAT(e.subscriptions, ElementsAre("echo.in", "orders.*"));
  EXPECT_EQ(c->FindBroker("default")->url, "mem://");

  auto bad = SingleComponentConfig(dir_.path() / "echo.wasm", {"a..b"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), StartsWith("--subscribe: "));
  auto missing = SingleComponentConfig(dir_.path() / "nope.wasm", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ferry::config
