// The gateway as a user meets it: [gateway] in ferry.toml, a Host running
// components behind it, its static files and client script, and TLS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.h"
#include "gateway/gateway_fixture.h"
#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using gateway::Op;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

class GatewayConfigTest : public ::testing::Test {
 protected:
  std::string ErrorOf(const std::string& gateway_section) {
    auto c = config::ParseConfig(gateway_section, dir_.path());
    if (c.ok()) return "<parsed>";
    EXPECT_EQ(c.error().message().find('\n'), std::string::npos) << c.error().message();
    return c.error().message();
  }
  TempDir dir_;
};

TEST_F(GatewayConfigTest, ParsesEverything) {
  std::filesystem::create_directory(dir_.path() / "web");
  dir_.Write("cert.pem", "x");
  dir_.Write("key.pem", "x");
  ::setenv("FERRY_TEST_GATEWAY_TOKEN", "from-the-environment-123", 1);
  auto c = config::ParseConfig(R"(
[brokers]
other = "mem://"
[gateway]
websocket = "0.0.0.0:8787"
broker = "other"
allowed_origins = ["https://app.example"]
allow_publish = ["chat.post"]
static = "web"
tls_cert = "cert.pem"
tls_key = "key.pem"
max_connections = 10
send_buffer_bytes = 65536
[[gateway.token]]
token_env = "FERRY_TEST_GATEWAY_TOKEN"
allow_subscribe = ["a.>"]
[[gateway.origin]]
origin = "https://admin.example"
allow_request = ["admin.*"]
)",
                               dir_.path());
  ASSERT_OK(c);
  const auto& g = c->gateway;
  EXPECT_EQ(g.websocket, "0.0.0.0:8787");
  EXPECT_EQ(g.broker, "other");
  EXPECT_EQ(g.grants.allow_publish, std::vector<std::string>{"chat.post"});
  ASSERT_EQ(g.tokens.size(), 1u);
  EXPECT_EQ(g.tokens[0].token, "from-the-environment-123");
  EXPECT_TRUE(g.require_token);  // tokens configured
  ASSERT_EQ(g.origins.size(), 1u);
  EXPECT_EQ(g.origins[0].grants.allow_request, std::vector<std::string>{"admin.*"});
  EXPECT_EQ(g.static_dir, std::filesystem::canonical(dir_.path() / "web"));
  EXPECT_EQ(g.max_connections, 10u);
  EXPECT_EQ(g.send_buffer_bytes, 65536u);
  EXPECT_TRUE(config::ParseConfig("", dir_.path())->gateway.websocket.empty());
}

TEST_F(GatewayConfigTest, ErrorsNameTheKey) {
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"8787\"\n"),
              HasSubstr(":2: gateway.websocket: expected \"host:port\""));
  EXPECT_THAT(ErrorOf("[gateway]\nbroker = \"x\"\n"), HasSubstr("gateway.websocket: missing"));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\nbroker = \"nats\"\n"),
              HasSubstr("gateway.broker: no broker named \"nats\""));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\nport = 1\n"),
              HasSubstr("gateway.port: unknown key"));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\nallow_publish = [\"a..b\"]\n"),
              HasSubstr("gateway.allow_publish[0]: pattern 'a..b' has an empty token"));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\n[[gateway.token]]\ntoken_env = "
                      "\"FERRY_TEST_UNSET_VARIABLE\"\n"),
              HasSubstr("gateway.token[0].token_env: the environment variable FERRY_TEST_UNSET_VARIABLE is not set"));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\n[[gateway.token]]\ntoken = \"short\"\n"),
              HasSubstr("at least 16 characters"));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\nrequire_token = true\n"),
              HasSubstr("gateway.require_token: no [[gateway.token]] is configured"));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\nstatic = \"nowhere\"\n"),
              HasSubstr("gateway.static: no such folder"));
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\nallowed_origins = [\"app.example/x\"]\n"),
              HasSubstr("gateway.allowed_origins[0]: expected \"*\" or an origin"));
  dir_.Write("cert.pem", "x");
  EXPECT_THAT(ErrorOf("[gateway]\nwebsocket = \"127.0.0.1:1\"\ntls_cert = \"cert.pem\"\n"),
              HasSubstr("set both tls_cert and tls_key"));
}

TEST(GatewayHostTest, BrowserMessagesReachComponentsAndTheirRepliesComeBack) {
  const std::uint16_t port = FreePort();
  RunningHost host(R"(
[[component]]
path = "$COMPONENTS/echo.wasm"
subscribe = ["echo.in"]
allow_publish = ["echo.out"]
[[component]]
path = "$COMPONENTS/greeter.wasm"
subscribe = ["greet"]
[gateway]
websocket = "127.0.0.1:)" + std::to_string(port) + R"("
allow_publish = ["echo.in"]
allow_subscribe = ["echo.out"]
allow_request = ["greet"]
)");
  ASSERT_OK(host.start_status());
  auto connected = WsClient::Connect(port);
  ASSERT_OK(connected);
  auto& ws = **connected;
  ASSERT_OK(ws.SendBinary(gateway::EncodeSubscribe(1, "echo.out")));
  ASSERT_EQ(ws.AnswerTo(1)->op, Op::kAck);
  ASSERT_OK(ws.SendBinary(gateway::EncodePublish(2, Msg("echo.in", "from a page"))));
  ASSERT_EQ(ws.AnswerTo(2)->op, Op::kAck);
  auto echoed = ws.Next(20s);
  ASSERT_OK(echoed);
  ASSERT_EQ(echoed->op, Op::kMessage);
  EXPECT_EQ(echoed->messages.at(0).topic, "echo.out");
  EXPECT_EQ(echoed->messages.at(0).data.view(), "from a page");

  ASSERT_OK(ws.SendBinary(gateway::EncodeRequest(3, Msg("greet", "browser"), 10000, 1)));
  auto replies = ws.AnswerTo(3, 20s);
  ASSERT_OK(replies);
  ASSERT_EQ(replies->op, Op::kReplies) << replies->error_text;
  ASSERT_EQ(replies->messages.size(), 1u);
  EXPECT_EQ(replies->messages[0].data.view(), "hello, browser");
  EXPECT_EQ(replies->messages[0].content_type, "text/plain");
}

TEST(GatewayHostTest, AReloadKeepsAnUnchangedGatewayAndItsClients) {
  TempDir dir;
  const std::uint16_t port = FreePort();
  auto write = [&](std::uint16_t p) {
    return dir.Write("ferry.toml", "[host]\ncache_dir = \"" +
                                       (std::filesystem::temp_directory_path() / "ferry-test-cache").string() +
                                       "\"\n[gateway]\nwebsocket = \"127.0.0.1:" + std::to_string(p) +
                                       "\"\nallow_subscribe = [\">\"]\n");
  };
  const auto file = write(port);
  auto host = Host::Create({.config_file = file});
  ASSERT_OK(host);
  ASSERT_OK((*host)->Start());
  auto ws = WsClient::Connect(port);
  ASSERT_OK(ws);
  ASSERT_OK((*ws)->SendBinary(gateway::EncodeSubscribe(1, "news")));
  ASSERT_EQ((*ws)->AnswerTo(1)->op, Op::kAck);

  ASSERT_OK((*host)->Reload({.config_file = file}, 5s));
  ASSERT_OK((*host)->Publish("default", Msg("news", "after the reload")));
  auto f = (*ws)->Next();
  ASSERT_OK(f);
  EXPECT_EQ(f->messages.at(0).data.view(), "after the reload");

  // A changed [gateway] is a new gateway: its clients reconnect.
  const std::uint16_t moved = FreePort();
  write(moved);
  ASSERT_OK((*host)->Reload({.config_file = file}, 5s));
  EXPECT_FALSE((*ws)->Read().ok());
  EXPECT_EQ((*ws)->close_code(), 1001);
  EXPECT_OK(WsClient::Connect(moved));
  (*host)->Stop(5s);
}

TEST_F(GatewayTest, ServesTheClientScriptAndStaticFilesButNothingOutside) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "site" / "sub");
  dir.Write("site/index.html", "<h1>home</h1>");
  dir.Write("site/sub/app.js", "export const x = 1;");
  dir.Write("secret.txt", "do not serve");
  std::filesystem::create_symlink(dir.path() / "secret.txt", dir.path() / "site" / "link.txt");
  auto config = OpenGatewayConfig();
  config.static_dir = dir.path() / "site";
  Start(config);
  const auto port = gateway_->Port();

  auto js = HttpGet(port, "/ferry-client.js");
  ASSERT_OK(js);
  EXPECT_EQ(js->status, 200u);
  EXPECT_THAT(js->content_type, StartsWith("text/javascript"));
  EXPECT_THAT(js->body, HasSubstr("export function connect"));
  auto home = HttpGet(port, "/");
  ASSERT_OK(home);
  EXPECT_EQ(home->status, 200u);
  EXPECT_EQ(home->body, "<h1>home</h1>");
  auto app = HttpGet(port, "/sub/app.js?v=2");
  ASSERT_OK(app);
  EXPECT_EQ(app->body, "export const x = 1;");
  EXPECT_THAT(app->content_type, StartsWith("text/javascript"));
  for (const char* escape : {"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt",
                             "/link.txt", "/sub/%2E%2E/%2E%2E/secret.txt", "/..%5csecret.txt",
                             "/missing.html", "//etc/passwd"}) {
    auto r = HttpGet(port, escape);
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 404u) << escape;
    EXPECT_THAT(r->body, ::testing::Not(HasSubstr("do not serve"))) << escape;
  }
}

TEST_F(GatewayTest, TlsWithAConfiguredCertificate) {
  TempDir dir;
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout '" +
                          (dir.path() / "key.pem").string() + "' -out '" +
                          (dir.path() / "cert.pem").string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto config = OpenGatewayConfig();
  config.tls_cert = dir.path() / "cert.pem";
  config.tls_key = dir.path() / "key.pem";
  Start(config);
  BrokerTap tap(*broker_, "secure.>");
  auto wss = WsClient::Connect(gateway_->Port(), {.tls = true});
  ASSERT_OK(wss);
  ASSERT_OK((*wss)->SendBinary(gateway::EncodePublish(1, Msg("secure.x", "over tls"))));
  ASSERT_EQ((*wss)->AnswerTo(1)->op, Op::kAck);
  EXPECT_EQ(tap.WaitFor(1).at(0).data.view(), "over tls");
  // Plain WebSocket on the TLS port gets nowhere.
  EXPECT_FALSE(WsClient::Connect(gateway_->Port(), {.timeout = 3s}).ok());
}

TEST_F(GatewayTest, BadCertificateIsAOneLineStartError) {
  TempDir dir;
  dir.Write("cert.pem", "not a certificate");
  dir.Write("key.pem", "not a key");
  auto config = OpenGatewayConfig();
  config.tls_cert = dir.path() / "cert.pem";
  config.tls_key = dir.path() / "key.pem";
  auto g = gateway::MakeGateway(config, [](std::string_view) { return nullptr; });
  Status s = g->Start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), StartsWith("gateway.tls_cert: cannot use"));
}

}  // namespace
}  // namespace ferry::testing
