// Host-wide limits: [limits].max_in_flight caps the deliveries every
// component together holds; a delivery past the cap waits at the broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

TEST(HostLimits, OneSlotMakesTheSecondComponentWaitForTheFirst) {
  RunningHost host("[limits]\nmax_in_flight = 1\nhandler_timeout_ms = 1500\n"
                   "[[component]]\nname = \"slow\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                   "subscribe = [\"slow.in\"]\nmax_attempts = 1\n"
                   "[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/echo.wasm\"\n"
                   "subscribe = [\"echo.in\"]\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("echo.out");
  ASSERT_OK(host.Publish("slow.in", "loop"));  // holds the one slot until its deadline
  host.WaitForStats("slow", [](const ComponentStats& s) { return s.received == 1; });
  ASSERT_OK(host.Publish("echo.in", "waits"));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(host.StatsOf("echo").received, 0u);  // still at the broker
  EXPECT_TRUE(out.Snapshot().empty());
  auto got = out.WaitFor(1, 20s);  // the slot frees when the loop is cut off
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "waits");
  EXPECT_EQ(host.StatsOf("slow").failed, 1u);
}

}  // namespace
}  // namespace ferry::testing
