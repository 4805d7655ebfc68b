#include "support/two_hosts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "brokers/conformance.h"
#include "brokers/registry.h"
#include "support/ferry_process.h"
#include "support/host_fixture.h"
#include "support/matchers.h"

namespace ferry::testing {

using namespace std::chrono_literals;

void ExpectTwoHostsShareTheWork(const std::string& brokers_toml, const std::string& url,
                                const std::map<std::string, std::string>& options,
                                const std::string& topic, int count) {
  const std::string broker = "[brokers]\n" + brokers_toml + "\n";
  const std::string member = "subscribe = [\"" + topic + "\"]\nqueue_group = \"workers\"\n";
  FerryProcess a(broker + "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\n" + member);
  FerryProcess b(broker + "[[component]]\npath = \"$COMPONENTS/transformer.wasm\"\n" + member);
  ASSERT_OK(a.Start());
  ASSERT_OK(b.Start());
  auto conn = MakeBroker(url, options);
  ASSERT_OK(conn);
  Broker& driver = **conn;
  ASSERT_OK(driver.Connect());
  Sink echoed, transformed;
  auto s1 = driver.Subscribe({.pattern = "echo.out", .manual_ack = false}, echoed.Handler());
  auto s2 = driver.Subscribe({.pattern = "transform.out", .manual_ack = false}, transformed.Handler());
  ASSERT_OK(s1);
  ASSERT_OK(s2);
  for (int i = 0; i < count; ++i)
    ASSERT_OK(driver.Publish(TestMessage(topic, "m" + std::to_string(i)), Clock::now() + 5s));
  const auto until = Clock::now() + 20s;
  while (echoed.size() + transformed.size() < static_cast<std::size_t>(count) && Clock::now() < until)
    std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(300ms);  // a duplicate would show up now
  EXPECT_EQ(echoed.size() + transformed.size(), static_cast<std::size_t>(count));
  EXPECT_GT(echoed.size(), 0u);
  EXPECT_GT(transformed.size(), 0u);
  EXPECT_EQ(a.Stop(), 0) << a.Log();
  EXPECT_EQ(b.Stop(), 0) << b.Log();
}

}  // namespace ferry::testing

namespace ferry::testing {

std::string ExamplesOnBroker(const std::string& brokers_toml, const std::string& prefix) {
  return "[brokers]\n" + brokers_toml + "\n" +
         "[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"" + prefix + ".echo.in\"]\n"
         "[[component]]\npath = \"$COMPONENTS/greeter.wasm\"\nsubscribe = [\"" + prefix + ".greet\"]\n"
         "[[component]]\npath = \"$COMPONENTS/shouter.wasm\"\nsubscribe = [\"" + prefix + ".greet\"]\n";
}

void ExpectEchoRoundTrip(RunningHost& host, const std::string& topic, const std::string& body) {
  Inbox& out = host.Listen("echo.out");
  ASSERT_OK(host.Publish(topic, body, {{"trace", "t-1"}}, "text/plain"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), body);
  EXPECT_EQ(got[0].content_type, "text/plain");
  EXPECT_EQ(got[0].metadata.Get("trace"), "t-1");
}

void ExpectTwoRepliesThenATimeout(RunningHost& host, const std::string& prefix,
                                  std::chrono::milliseconds limit) {
  Message m;
  m.topic = prefix + ".greet";
  m.data = Bytes::FromString("world");
  auto replies = host.host().Request("default", m, limit, 2);
  ASSERT_OK(replies);
  std::vector<std::string> texts;
  for (const Message& r : *replies) texts.emplace_back(r.data.view());
  EXPECT_THAT(texts, ::testing::UnorderedElementsAre("hello, world", "HELLO, WORLD"));
  m.topic = prefix + ".nobody.home";
  auto none = host.host().Request("default", m, std::chrono::milliseconds(300), 1);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kTimeout);
}

}  // namespace ferry::testing
