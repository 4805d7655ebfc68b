// The embedding API: a Host from a configuration built in code, with a
// component given as bytes and a broker of the program's own (registered
// with ScopedBrokerScheme), and the checks Create applies to such a
// configuration. examples/embed/ does the same against the installed
// package (tests/embed/embed_install_test.sh).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iterator>

#include "brokers/registry.h"
#include "ferry/broker.h"
#include "ferry/config.h"
#include "ferry/host.h"
#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const std::vector<std::uint8_t>> BytesOf(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::make_shared<const std::vector<std::uint8_t>>(std::istreambuf_iterator<char>(in),
                                                           std::istreambuf_iterator<char>());
}

config::Config TransformerFromBytes(const std::string& broker_url) {
  config::Config config;
  config.brokers.push_back({"default", broker_url, {}});
  config::ComponentConfig c;
  c.name = "upper";
  c.bytes = BytesOf(Component("transformer"));
  c.subscriptions = {"demo.in"};
  c.allow_publish = {"transform.out"};
  config.components.push_back(c);
  return config;
}

// A broker of "the program's own": it counts what passes through and
// hands everything to an embedded broker underneath.
class CountingBroker final : public Broker {
 public:
  CountingBroker(std::unique_ptr<Broker> inner, std::atomic<int>& published)
      : inner_(std::move(inner)), published_(published) {}
  std::string DisplayUrl() const override { return "counting://"; }
  BrokerCapabilities Capabilities() const override { return inner_->Capabilities(); }
  Status Connect() override { return inner_->Connect(); }
  void Close() override { inner_->Close(); }
  ConnectionState State() const override { return inner_->State(); }
  void OnStateChange(std::function<void(ConnectionState)> cb) override { inner_->OnStateChange(std::move(cb)); }
  Status Publish(const Message& m, Deadline d) override {
    ++published_;
    return inner_->Publish(m, d);
  }
  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions o, DeliveryHandler h) override {
    return inner_->Subscribe(std::move(o), std::move(h));
  }
  Result<std::vector<Message>> Request(const Message& m, const RequestOptions& o) override {
    return inner_->Request(m, o);
  }

 private:
  std::unique_ptr<Broker> inner_;
  std::atomic<int>& published_;
};

TEST(Embedding, ConfigInCodeComponentFromBytesOwnBroker) {
  std::atomic<int> published{0};
  auto scheme = ScopedBrokerScheme::Create(
      "counting", [&](std::string_view, const std::map<std::string, std::string>&)
                      -> Result<std::unique_ptr<Broker>> {
        auto inner = MakeBroker("mem://", {});
        if (!inner.ok()) return inner.error();
        return std::unique_ptr<Broker>(new CountingBroker(std::move(inner).value(), published));
      });
  ASSERT_OK(scheme);
  HostOptions options;
  options.config = TransformerFromBytes("counting://");
  auto host = Host::Create(options);
  ASSERT_OK(host);
  ASSERT_OK((*host)->Start());
  Inbox inbox;
  auto listener = (*host)->Listen("default", "transform.out", [&](const Message& m) { inbox.Add(m); });
  ASSERT_OK(listener);
  Message m;
  m.topic = "demo.in";
  m.data = Bytes::FromString("from code");
  ASSERT_OK((*host)->Publish("default", m));
  auto got = inbox.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "FROM CODE");
  EXPECT_EQ(got[0].metadata.Get("transformed-by"), "ferry-transformer");
  EXPECT_EQ(published.load(), 2);  // ours, and the component's
  EXPECT_EQ((*host)->ComponentNames(), std::vector<std::string>{"upper"});
  (*host)->Stop(std::chrono::seconds(5));
}

TEST(Embedding, OwnSchemesCannotReplaceFerrysOrEachOther) {
  auto none = [](std::string_view, const std::map<std::string, std::string>&)
      -> Result<std::unique_ptr<Broker>> { return Error::Unsupported("unused"); };
  auto mem = ScopedBrokerScheme::Create("mem", none);
  ASSERT_FALSE(mem.ok());
  EXPECT_EQ(mem.error().message(), "broker scheme 'mem' is built in");
  auto first = ScopedBrokerScheme::Create("mine", none);
  ASSERT_OK(first);
  auto again = ScopedBrokerScheme::Create("mine", none);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message(), "broker scheme 'mine' is registered already");
}

TEST(Embedding, BytesThatAreNotAComponentFailStartNamingIt) {
  HostOptions options;
  options.config = TransformerFromBytes("mem://");
  options.config->components[0].bytes =
      std::make_shared<const std::vector<std::uint8_t>>(std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6, 7, 8});
  auto host = Host::Create(options);
  ASSERT_OK(host);
  Status started = (*host)->Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().message(), "upper is not a WebAssembly file");
}

// Create holds a configuration built in code to the rules of a ferry.toml.
TEST(Embedding, CreateChecksACodeConfigurationByTheFilesRules) {
  const auto error_of = [](const std::function<void(config::Config&)>& change) {
    HostOptions options;
    options.config = TransformerFromBytes("mem://");
    change(*options.config);
    auto host = Host::Create(options);
    return host.ok() ? std::string("<created>") : host.error().message();
  };
  EXPECT_EQ(error_of([](auto& c) { c.components[0].broker = "elsewhere"; }),
            "component[0].broker: no broker named \"elsewhere\" in the brokers");
  EXPECT_EQ(error_of([](auto& c) { c.components[0].connect = {"default", "x"}; }),
            "component[0].connect[1]: no broker named \"x\" in the brokers");
  EXPECT_EQ(error_of([](auto& c) { c.components.push_back(c.components[0]); }),
            "component[1].name: another component is already named \"upper\"");
  EXPECT_EQ(error_of([](auto& c) { c.components[0].name.clear(); }),
            "component[0].name: a component given as bytes needs a name");
  EXPECT_EQ(error_of([](auto& c) { c.components[0].bytes.reset(); }),
            "component[0]: needs a path or the component's bytes");
  EXPECT_EQ(error_of([](auto& c) { c.components[0].path = "/no/such.wasm"; c.components[0].bytes.reset(); }),
            "component[0].path: no such file: /no/such.wasm");
  EXPECT_THAT(error_of([](auto& c) { c.components[0].subscriptions = {"a..b"}; }),
              HasSubstr("component[0].subscribe[0]: "));
  EXPECT_THAT(error_of([](auto& c) { c.components[0].allow_http = {"nohost"}; }),
              HasSubstr("component[0].allow_http[0]: \"nohost\" has no port"));
  EXPECT_EQ(error_of([](auto& c) { c.components[0].workers = 0; }),
            "component[0].workers: expected 1 to 256, got 0");
  EXPECT_EQ(error_of([](auto& c) { c.brokers.push_back({"default", "mem://", {}}); }),
            "brokers[1].name: another broker is already named \"default\"");
  EXPECT_EQ(error_of([](auto& c) { c.brokers[0].url = "localhost"; }),
            "brokers[0].url: expected a URL like mem:// or nats://host:4222, got \"localhost\"");
  EXPECT_EQ(error_of([](auto& c) { c.host.otlp_endpoint = "collector:4318"; }),
            "host.otlp_endpoint: expected an http:// or https:// URL, got 'collector:4318'");
  EXPECT_EQ(error_of([](auto&) {}), "<created>");
}

// The [gateway] of a code configuration is held to the parser's rules too.
TEST(Embedding, CreateChecksACodeGatewayByTheFilesRules) {
  const auto error_of = [](const std::function<void(config::GatewayConfig&)>& change) {
    HostOptions options;
    options.config = TransformerFromBytes("mem://");
    options.config->gateway.websocket = "127.0.0.1:1";
    change(options.config->gateway);
    auto host = Host::Create(options);
    return host.ok() ? std::string("<created>") : host.error().message();
  };
  EXPECT_EQ(error_of([](auto& g) { g.websocket = "8080"; }),
            "gateway.websocket: expected \"host:port\" with a port from 1 to 65535, got \"8080\"");
  EXPECT_EQ(error_of([](auto& g) { g.broker = "elsewhere"; }),
            "gateway.broker: no broker named \"elsewhere\" in the brokers");
  EXPECT_EQ(error_of([](auto& g) { g.allowed_origins = {"app.example"}; }),
            "gateway.allowed_origins[0]: expected \"*\" or an origin like \"https://app.example:8443\"");
  EXPECT_EQ(error_of([](auto& g) { g.origins = {{"*", {}}}; }),
            "gateway.origin[0].origin: expected an origin like \"https://app.example:8443\"");
  EXPECT_THAT(error_of([](auto& g) { g.tokens = {{"0123456789abcdef", "t", {.allow_publish = {"a..b"}}}}; }),
              HasSubstr("gateway.token[0].allow_publish[0]: "));
  EXPECT_EQ(error_of([](auto& g) { g.tokens = {{"short", "t", {}}}; }),
            "gateway.token[0]: a token must be at least 16 characters long");
  EXPECT_EQ(error_of([](auto& g) { g.require_token = true; }), "gateway.require_token: no token is configured");
  EXPECT_EQ(error_of([](auto& g) { g.static_dir = "relative/www"; }),
            "gateway.static: expected the absolute path of a folder, got \"relative/www\"");
  EXPECT_EQ(error_of([](auto& g) { g.tls_cert = "/etc/hostname"; }),
            "gateway: set both tls_cert and tls_key, or neither");
  EXPECT_EQ(error_of([](auto& g) { g.tls_cert = g.tls_key = "/no/such.pem"; }),
            "gateway.tls_cert: no such file: /no/such.pem");
  EXPECT_EQ(error_of([](auto& g) { g.threads = 0; }), "gateway.threads: expected 1 to 64, got 0");
  EXPECT_EQ(error_of([](auto& g) { g.max_message_bytes = 10; }),
            "gateway.max_message_bytes: expected 64 to 1073741824, got 10");
  EXPECT_EQ(error_of([](auto&) {}), "<created>");
  EXPECT_EQ(error_of([](auto& g) { g.websocket.clear(); g.threads = 0; }), "<created>") << "off: not checked";
}

// What the file format defaults, a code configuration gets too.
TEST(Embedding, CodeConfigurationGetsTheFilesDefaults) {
  config::Config config;
  config::ComponentConfig c;
  c.path = Component("echo");
  c.subscriptions = {"echo.in"};
  c.allow_publish = {"echo.out"};
  config.components.push_back(c);
  HostOptions options;
  options.config = config;
  auto host = Host::Create(options);
  ASSERT_OK(host);
  EXPECT_EQ((*host)->ComponentNames(), std::vector<std::string>{"echo"});  // from the file name
  ASSERT_OK((*host)->Start());  // on the "default" broker added for it (mem://)
  Inbox inbox;
  auto listener = (*host)->Listen("default", "echo.out", [&](const Message& m) { inbox.Add(m); });
  ASSERT_OK(listener);
  Message m;
  m.topic = "echo.in";
  m.data = Bytes::FromString("ping");
  ASSERT_OK((*host)->Publish("default", m));
  ASSERT_EQ(inbox.WaitFor(1).size(), 1u);  // it may connect to its broker: connect = [broker]
}

}  // namespace
}  // namespace ferry::testing
