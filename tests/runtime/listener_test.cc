// Host::Listen's Listener may outlive Host::Stop and the Host itself: Stop
// ends its subscription before the brokers close, and destroying the
// Listener afterwards touches nothing of the host. Run under
// AddressSanitizer to see the difference (a freed broker otherwise).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <pthread.h>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

// A host with the echo component, built the way RunningHost builds one but
// owned by the test, so it can go before its listener.
struct OwnedHost {
  OwnedHost() {
    const std::string text =
        "[host]\ncache_dir = \"" +
        (std::filesystem::temp_directory_path() / "ferry-test-cache").string() +
        "\"\n[[component]]\nname = \"echo\"\npath = \"" + Component("echo").string() +
        "\"\nsubscribe = [\"echo.in\"]\nallow_publish = [\">\"]\n";
    auto created = Host::Create({.config_file = dir.Write("ferry.toml", text)});
    EXPECT_OK(created);
    if (created.ok()) host = std::move(created).value();
  }

  TempDir dir;
  std::unique_ptr<Host> host;
};

std::string CurrentThreadName() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

Status PublishEcho(Host& host, const std::string& data) {
  Message m;
  m.topic = "echo.in";
  m.data = Bytes::FromString(data);
  return host.Publish("default", m);
}

TEST(HostListen, ListenerOutlivesItsHost) {
  OwnedHost owned;
  ASSERT_TRUE(owned.host);
  ASSERT_OK(owned.host->Start());
  Inbox out;
  auto listener = owned.host->Listen("default", "echo.out", [&out](const Message& m) { out.Add(m); });
  ASSERT_OK(listener);
  ASSERT_OK(PublishEcho(*owned.host, "live"));
  ASSERT_EQ(out.WaitFor(1).size(), 1u);  // the listener worked while the host ran

  owned.host->Stop(1s);
  owned.host.reset();  // the embedded broker is gone
  listener->reset();   // and this must not reach it
  EXPECT_EQ(out.Snapshot().size(), 1u);
}

TEST(HostListen, StopEndsTheListenerForGood) {
  OwnedHost owned;
  ASSERT_TRUE(owned.host);
  ASSERT_OK(owned.host->Start());
  std::atomic<int> calls{0};
  auto listener = owned.host->Listen("default", "echo.out", [&](const Message&) { ++calls; });
  ASSERT_OK(listener);
  owned.host->Stop(1s);

  // Started again, the host has new brokers; the old listener stays ended.
  ASSERT_OK(owned.host->Start());
  Inbox fresh;
  auto again = owned.host->Listen("default", "echo.out", [&](const Message& m) { fresh.Add(m); });
  ASSERT_OK(again);
  ASSERT_OK(PublishEcho(*owned.host, "after restart"));
  ASSERT_EQ(fresh.WaitFor(1).size(), 1u);
  EXPECT_EQ(calls.load(), 0);
  listener->reset();  // a no-op: Stop already ended it
  again->reset();
}

// What a listener's calls saw: the payloads in arrival order, the threads
// they ran on, and whether two calls ever overlapped.
struct CallLog {
  std::mutex mutex;
  std::vector<std::string> seen;
  std::set<std::string> threads;
  std::atomic<int> running{0}, overlapped{0};
  Inbox out;

  void Record(const Message& m) {
    if (running.fetch_add(1) != 0) ++overlapped;
    {
      std::lock_guard lock(mutex);
      seen.emplace_back(m.data.view());
      threads.insert(CurrentThreadName());
    }
    running.fetch_sub(1);
    out.Add(m);
  }
};

// Publishes "0", "1", ... to the echo component and logs what a listener
// on echo.out in `mode` is called with, until all `count` echoes arrived.
void ListenToEchoes(ListenMode mode, int count, CallLog& log) {
  OwnedHost owned;
  ASSERT_TRUE(owned.host);
  ASSERT_OK(owned.host->Start());
  auto listener =
      owned.host->Listen("default", "echo.out", [&log](const Message& m) { log.Record(m); }, mode);
  ASSERT_OK(listener);
  for (int i = 0; i < count; ++i) ASSERT_OK(PublishEcho(*owned.host, std::to_string(i)));
  ASSERT_EQ(log.out.WaitFor(count).size(), static_cast<std::size_t>(count));
}

// ListenMode::kInline on the embedded broker: the callback runs on the
// thread that published (here the echo's worker, never the test's thread
// nor a delivery thread of the broker's), one call at a time and in order.
TEST(HostListen, InlineListenerRunsOnThePublishingThreadInOrder) {
  constexpr int kCount = 2000;
  CallLog log;
  ListenToEchoes(ListenMode::kInline, kCount, log);
  std::lock_guard lock(log.mutex);
  ASSERT_EQ(log.seen.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(log.seen[i], std::to_string(i));
  EXPECT_EQ(log.overlapped.load(), 0);
  EXPECT_EQ(log.threads, std::set<std::string>{"w:echo"});
}

// The same callback in the default mode runs on the broker's delivery
// thread for the subscription.
TEST(HostListen, DefaultListenerRunsOnADeliveryThread) {
  CallLog log;
  ListenToEchoes(ListenMode::kOwnThread, 50, log);
  std::lock_guard lock(log.mutex);
  EXPECT_EQ(log.threads, std::set<std::string>{"mem:echo.out"});
}

}  // namespace
}  // namespace ferry::testing
