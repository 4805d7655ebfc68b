// SIGHUP reloads ferry.toml: the new components run, in-flight work is not
// lost, and a config that fails to load leaves the running one in place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <set>
#include <stop_token>
#include <thread>

#include "ferry/control.h"
#include "support/ferry_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// `ferry request` against a running process; returns its output.
std::string Request(const FerryProcess& p, const std::string& topic, const std::string& data) {
  const std::string cmd = std::string(FERRY_BINARY) + " request " + topic + " " + data +
                          " --timeout 3000 --control " + p.control_socket().string() + " 2>&1";
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  char buf[512];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  ::pclose(f);
  return out;
}

// Waits until `topic` answers (the control socket comes back after reload).
std::string RequestUntilAnswered(const FerryProcess& p, const std::string& topic, const std::string& data) {
  std::string out;
  for (int i = 0; i < 100; ++i) {
    out = Request(p, topic, data);
    if (out.find("hello") != std::string::npos || out.find("HELLO") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  return out;
}

const char* kGreeter = "[[component]]\nname = \"greeter\"\npath = \"$COMPONENTS/greeter.wasm\"\nsubscribe = [\"greet\"]\n";
const char* kShouter = "[[component]]\nname = \"shouter\"\npath = \"$COMPONENTS/shouter.wasm\"\nsubscribe = [\"shout\"]\n";

TEST(Reload, SighupStartsTheNewConfiguration) {
  FerryProcess ferry(kGreeter);
  ASSERT_OK(ferry.Start());
  EXPECT_THAT(Request(ferry, "greet", "one"), HasSubstr("hello, one"));
  ferry.Rewrite(std::string(kGreeter) + kShouter);
  ferry.Signal(SIGHUP);
  EXPECT_THAT(RequestUntilAnswered(ferry, "shout", "two"), HasSubstr("HELLO, TWO"));
  EXPECT_THAT(Request(ferry, "greet", "three"), HasSubstr("hello, three"));
  EXPECT_EQ(ferry.Stop(), 0);
  EXPECT_THAT(ferry.Log(), HasSubstr("reloaded"));
}

TEST(Reload, ABrokenConfigurationLeavesTheRunningOneAndSaysWhy) {
  FerryProcess ferry(kGreeter);
  ASSERT_OK(ferry.Start());
  EXPECT_THAT(Request(ferry, "greet", "before"), HasSubstr("hello, before"));
  ferry.Rewrite(std::string(kGreeter) + "[[component]]\npath = \"$COMPONENTS/core_module.wasm\"\n");
  ferry.Signal(SIGHUP);
  EXPECT_THAT(Request(ferry, "greet", "still"), HasSubstr("hello, still"));
  ferry.Rewrite("this is = = not toml");
  ferry.Signal(SIGHUP);
  EXPECT_THAT(Request(ferry, "greet", "again"), HasSubstr("hello, again"));
  EXPECT_EQ(ferry.Stop(), 0);
  const std::string log = ferry.Log();
  EXPECT_THAT(log, HasSubstr("reload failed, the running configuration stays"));
  EXPECT_THAT(log, HasSubstr("is a core WebAssembly module"));
  EXPECT_THAT(log, HasSubstr("TOML syntax error"));
}

// How many times `needle` occurs in `text`.
int Occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// Waits (generously) until the log says `reloaded` `times` times.
bool WaitForReloads(const FerryProcess& p, int times) {
  for (int i = 0; i < 1200; ++i) {
    if (Occurrences(p.Log(), "reloaded ") >= times) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::string Transformer(int workers) {
  return "[[component]]\nname = \"transformer\"\npath = \"$COMPONENTS/transformer.wasm\"\n"
         "subscribe = [\"transform.in\"]\nworkers = " + std::to_string(workers) + "\n";
}

// Issue 14, item 10: the control socket and the embedded broker (its
// subscriptions and what is queued on them) outlive a reload. A control
// subscriber stays attached and every publish finds the host, while the
// component between them is replaced twice.
TEST(Reload, ControlClientsAndTheEmbeddedBrokerOutliveTwoReloads) {
  constexpr int kMessages = 20000;
  FerryProcess ferry(Transformer(1));
  ASSERT_OK(ferry.Start());
  const auto socket = ferry.control_socket();

  // The subscriber counts distinct messages the transformer sent on.
  std::stop_source stop_subscriber;
  std::atomic<bool> subscribed{false};
  std::set<std::string> seen;
  std::uint64_t received = 0;
  Status subscriber_status;
  std::thread subscriber([&] {
    subscriber_status = ControlSubscribe(
        socket, "default", "transform.out", 0,
        [&](const Message& m) {
          ++received;
          seen.insert(std::string(m.data.view()));
          return seen.size() < kMessages;
        },
        [&] { subscribed = true; }, stop_subscriber.get_token());
  });
  for (int i = 0; i < 600 && !subscribed; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(subscribed) << ferry.Log();

  std::atomic<int> published{0};
  std::vector<std::string> publish_errors;
  std::thread publisher([&] {
    for (int i = 0; i < kMessages; ++i) {
      Message m;
      m.topic = "transform.in";
      m.data = Bytes::FromString("m" + std::to_string(i));
      Status s = ControlPublish(socket, "default", m);
      if (!s.ok() && publish_errors.size() < 5) publish_errors.push_back(s.error().ToString());
      published.fetch_add(1);
    }
  });

  // Two reloads while messages flow: two workers, then one again.
  auto wait_published = [&](int n) {
    while (published.load() < n) std::this_thread::sleep_for(1ms);
  };
  wait_published(kMessages / 4);
  ferry.Rewrite(Transformer(2));
  ferry.Signal(SIGHUP);
  const bool first = WaitForReloads(ferry, 1);
  const int published_at_first = published.load();
  wait_published(kMessages / 2);
  ferry.Rewrite(Transformer(1));
  ferry.Signal(SIGHUP);
  const bool second = WaitForReloads(ferry, 2);
  const int published_at_second = published.load();
  publisher.join();

  // Every message arrives within a generous bound, or the subscriber is
  // stopped and the counts below show what was lost.
  {
    std::jthread watchdog([&](std::stop_token done) {
      for (int i = 0; i < 1200 && !done.stop_requested(); ++i) std::this_thread::sleep_for(50ms);
      stop_subscriber.request_stop();
    });
    subscriber.join();
  }

  EXPECT_TRUE(first && second) << ferry.Log();
  EXPECT_THAT(publish_errors, ::testing::IsEmpty());
  EXPECT_OK(subscriber_status);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(received, static_cast<std::uint64_t>(kMessages)) << "duplicates";
  std::printf("reloads done after %d and %d of %d published\n", published_at_first,
              published_at_second, kMessages);
  EXPECT_EQ(ferry.Stop(), 0);
}

}  // namespace
}  // namespace ferry::testing
