// What happens to a message whose handling fails: retries, then the
// dead-letter topic with metadata saying why. Bad guests (traps, endless
// loops, unbounded allocation, errors) mixed with good traffic never take
// the host down or cost a good message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string PolicyConfig(int workers = 1) {
  return "[limits]\nhandler_timeout_ms = 300\nmax_memory_bytes = 16777216\n"
         "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
         "subscribe = [\"misbehave.in\"]\nmax_attempts = 2\nretry_delay_ms = 10\n"
         "dead_letter = \"dead.letters\"\nworkers = " +
         std::to_string(workers) + "\n";
}

TEST(DeadLetters, EachFailureArrivesWithItsReasonAttemptsAndError) {
  RunningHost host(PolicyConfig());
  ASSERT_OK(host.start_status());
  Inbox& dead = host.Listen("dead.letters");
  const std::map<std::string, std::string> expected = {
      {"fail", "error"}, {"trap", "trap"}, {"loop", "timeout"}, {"grow", "memory"}};
  for (const auto& [command, reason] : expected) ASSERT_OK(host.Publish("misbehave.in", command, {{"id", command}}));
  auto got = dead.WaitFor(expected.size());
  ASSERT_EQ(got.size(), expected.size());
  for (const Message& m : got) {
    const std::string command = Text(m);
    SCOPED_TRACE(command);
    EXPECT_EQ(m.metadata.Get("ferry-dead-letter-reason"), expected.at(command));
    EXPECT_EQ(m.metadata.Get("ferry-attempts"), "2");
    EXPECT_EQ(m.metadata.Get("ferry-component"), "misbehave");
    EXPECT_EQ(m.metadata.Get("ferry-original-topic"), "misbehave.in");
    EXPECT_EQ(m.metadata.Get("id"), command);  // the original metadata stays
    EXPECT_TRUE(m.metadata.Get("ferry-last-error").has_value());
  }
  auto stats = host.WaitForStats("misbehave", [](const ComponentStats& s) { return s.dead_lettered == 4; });
  EXPECT_EQ(stats.failed, 8u);
  EXPECT_EQ(stats.given_up, 4u);
  EXPECT_EQ(stats.dead_lettered, 4u);
}

TEST(DeadLetters, OutOfFuelIsItsOwnReason) {
  // A generous deadline: the fuel budget, not the clock, stops the loop.
  RunningHost host("[limits]\nhandler_timeout_ms = 20000\nfuel_per_call = 50000000\n"
                   "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
                   "subscribe = [\"misbehave.in\"]\nmax_attempts = 1\ndead_letter = \"dead.letters\"\n");
  ASSERT_OK(host.start_status());
  Inbox& dead = host.Listen("dead.letters");
  Inbox& out = host.Listen("misbehave.out");
  ASSERT_OK(host.Publish("misbehave.in", "loop"));
  auto got = dead.WaitFor(1, 15s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].metadata.Get("ferry-dead-letter-reason"), "fuel");
  // Ordinary calls fit in the budget.
  ASSERT_OK(host.Publish("misbehave.in", "fine"));
  auto answered = out.WaitFor(1);
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(Text(answered[0]), "ok: fine");
}

TEST(DeadLetters, HandlerErrorTextIsKept) {
  RunningHost host(PolicyConfig());
  ASSERT_OK(host.start_status());
  Inbox& dead = host.Listen("dead.letters");
  ASSERT_OK(host.Publish("misbehave.in", "fail"));
  auto got = dead.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(std::string(*got[0].metadata.Get("ferry-last-error")), HasSubstr("refused: fail"));
}

// Proof 2 of the reliability issue, scaled for CI. FERRY_PROOF_MESSAGES
// sets the number of messages (docs/RELIABILITY.md has the long run).
TEST(Reliability, BadGuestsMixedWithGoodTrafficLoseNothing) {
  const char* env = std::getenv("FERRY_PROOF_MESSAGES");
  const int total = env ? std::atoi(env) : 400;
  RunningHost host(PolicyConfig(/*workers=*/4));
  ASSERT_OK(host.start_status());
  Inbox& dead = host.Listen("dead.letters");
  Inbox& out = host.Listen("misbehave.out");
  const char* bad[] = {"fail", "trap", "loop", "grow"};
  std::set<std::string> good_sent;
  std::map<std::string, int> bad_sent;
  for (int i = 0; i < total; ++i) {
    if (i % 10 == 9) {
      const std::string command = bad[(i / 10) % 4];
      ++bad_sent[command];
      ASSERT_OK(host.Publish("misbehave.in", command, {{"n", std::to_string(i)}}));
    } else {
      const std::string body = "good " + std::to_string(i);
      good_sent.insert("ok: " + body);
      ASSERT_OK(host.Publish("misbehave.in", body));
    }
  }
  int bad_total = 0;
  for (const auto& [c, n] : bad_sent) bad_total += n;
  auto handled = out.WaitFor(good_sent.size(), 120s);
  auto dead_letters = dead.WaitFor(bad_total, 120s);
  std::set<std::string> good_seen;
  for (const Message& m : handled) good_seen.insert(Text(m));
  EXPECT_EQ(good_seen, good_sent);
  std::map<std::string, int> reasons;
  for (const Message& m : dead_letters) ++reasons[std::string(*m.metadata.Get("ferry-dead-letter-reason"))];
  EXPECT_EQ(reasons["error"], bad_sent["fail"]);
  EXPECT_EQ(reasons["trap"], bad_sent["trap"]);
  EXPECT_EQ(reasons["memory"], bad_sent["grow"]);
  EXPECT_EQ(reasons["timeout"], bad_sent["loop"]);
  // The count moves just after the dead letter is published.
  auto s = host.WaitForStats("misbehave", [&](const ComponentStats& s) {
    return s.dead_lettered >= static_cast<std::uint64_t>(bad_total);
  });
  EXPECT_EQ(s.handled, good_sent.size());
  EXPECT_EQ(s.dead_lettered, static_cast<std::uint64_t>(bad_total));
}

}  // namespace
}  // namespace ferry::testing
