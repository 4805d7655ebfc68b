// The edges of what a guest may do: payload and metadata sizes at and past
// their limits, guests that hoard messages or clients, stale handles, and
// the dead-letter reason each kind of failure gets. Every failure is one
// failed delivery; the host goes on with a fresh instance.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

// One component on "<component>.in" that answers on "<component>.out", tried
// once, its failures dead-lettered to "dead.letters". `limits` is the body of
// [limits].
std::string BoundaryConfig(const std::string& component, const std::string& limits) {
  return "[limits]\n" + limits + "[[component]]\nname = \"" + component + "\"\npath = \"$COMPONENTS/" +
         component + ".wasm\"\nsubscribe = [\"" + component + ".in\"]\nmax_attempts = 1\n" +
         "dead_letter = \"dead.letters\"\n";
}

// What became of one message: an answer on "<component>.out", or a dead
// letter with its reason (or neither, within the wait).
struct Outcome {
  std::optional<Message> answer;
  std::optional<std::string> reason;  // ferry-dead-letter-reason
  std::string last_error;             // ferry-last-error
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  if (o.answer) return os << "answered '" << Text(*o.answer).substr(0, 80) << "'";
  if (o.reason) return os << "dead-lettered (" << *o.reason << ": " << o.last_error << ")";
  return os << "nothing";
}

class Guest {
 public:
  // Answers are expected on `out`, by default "<component>.out".
  explicit Guest(const std::string& component, const std::string& limits = "", const std::string& out = "")
      : component_(component), host_(BoundaryConfig(component, limits)) {
    if (!host_.start_status().ok()) return;
    out_ = &host_.Listen(out.empty() ? component + ".out" : out);
    dead_ = &host_.Listen("dead.letters");
  }
  const Status& start_status() const { return host_.start_status(); }
  RunningHost& host() { return host_; }

  // Sends one message to the component and waits for what comes of it.
  Outcome Send(const std::string& data, Metadata md = {},
               std::optional<std::string> content_type = std::nullopt) {
    const std::size_t answers = out_->Snapshot().size();
    const std::size_t dead = dead_->Snapshot().size();
    EXPECT_OK(host_.Publish(component_ + ".in", data, std::move(md), std::move(content_type)));
    Outcome o;
    for (auto limit = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < limit;) {
      if (auto got = out_->Snapshot(); got.size() > answers) {
        o.answer = got[answers];
        return o;
      }
      if (auto got = dead_->Snapshot(); got.size() > dead) {
        const auto& md = got[dead].metadata;
        o.reason = std::string(md.Get("ferry-dead-letter-reason").value_or("<no reason>"));
        o.last_error = std::string(md.Get("ferry-last-error").value_or(""));
        return o;
      }
      std::this_thread::sleep_for(5ms);
    }
    return o;
  }
  // The dead-letter reason of `data`, or a description of what happened instead.
  std::string ReasonFor(const std::string& data) {
    Outcome o = Send(data);
    if (o.reason) return *o.reason;
    std::ostringstream os;
    os << "not dead-lettered: " << o;
    return os.str();
  }
  // The text the component answers `data` with, or a description of what happened instead.
  std::string AnswerTo(const std::string& data) {
    Outcome o = Send(data);
    if (o.answer) return Text(*o.answer);
    std::ostringstream os;
    os << "no answer: " << o;
    return os.str();
  }

 private:
  std::string component_;
  RunningHost host_;
  Inbox* out_ = nullptr;
  Inbox* dead_ = nullptr;
};

// `n` bytes using all 256 values, not in a repeating 256-byte cycle.
std::string Pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + i / 256 + (i >> 12));
  return s;
}

// Resident memory of this process (the host runs in it), after the allocator
// hands back what it has free, in KiB.
long ResidentKiB() {
  ::malloc_trim(0);
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  ADD_FAILURE() << "no VmRSS in /proc/self/status";
  return 0;
}

// 1. Payload sizes.

TEST(Boundary, EchoKeepsPayloadsOfZeroOneAnd65536BytesExactly) {
  Guest echo("echo");
  ASSERT_OK(echo.start_status());
  for (std::size_t size : {0u, 1u, 65536u}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size);
    Outcome o = echo.Send(data);
    ASSERT_TRUE(o.answer) << o;
    EXPECT_EQ(o.answer->data.size(), size);
    EXPECT_TRUE(Text(*o.answer) == data) << "payload of " << size << " bytes changed";
  }
}

TEST(Boundary, MessageOfExactlyMaxMessageBytesPassesOneMoreIsMemory) {
  // copy_echo reads the payload and sets it again: set-data past the limit.
  Guest echo("copy_echo", "max_message_bytes = 4096\n", "echo.out");
  ASSERT_OK(echo.start_status());
  const std::string limit = Pattern(4096);
  Outcome at = echo.Send(limit);
  ASSERT_TRUE(at.answer) << at;
  EXPECT_TRUE(Text(*at.answer) == limit);
  EXPECT_EQ(echo.ReasonFor(Pattern(4097)), "memory");
  EXPECT_EQ(echo.AnswerTo("after"), "after");  // a fresh instance
}

TEST(Boundary, MetadataOfExactlyMaxMetadataBytesPassesOneMoreIsRefused) {
  // Keys and values count: a 1-byte key and a 31-byte value, twice, is the limit.
  Guest echo("echo", "max_metadata_bytes = 64\n");
  ASSERT_OK(echo.start_status());
  Outcome at = echo.Send("x", Metadata{{"a", std::string(31, 'v')}, {"b", std::string(31, 'w')}});
  ASSERT_TRUE(at.answer) << at;
  EXPECT_EQ(at.answer->metadata.ByteSize(), 64u);
  // The echo forwards what it got: its send is refused with the
  // interface's error, which it returns.
  Outcome over = echo.Send("x", Metadata{{"a", std::string(31, 'v')}, {"b", std::string(32, 'w')}});
  EXPECT_EQ(over.reason, "error") << over;
  EXPECT_THAT(over.last_error, HasSubstr("metadata of 65 bytes is over the limit of 64")) << over;
  EXPECT_EQ(echo.AnswerTo("after"), "after");
}

// 2. Metadata.

TEST(Boundary, EchoKeepsUnicodeMetadataAndEmptyValues) {
  Guest echo("echo");
  ASSERT_OK(echo.start_status());
  Outcome o = echo.Send("m", Metadata{{"ключ", "値✓"}, {"empty", ""}, {"🦀", "∅"}}, "text/plain; charset=utf-8");
  ASSERT_TRUE(o.answer) << o;
  EXPECT_THAT(o.answer->metadata.entries(),
              ElementsAre(Pair("ключ", "値✓"), Pair("empty", ""), Pair("🦀", "∅")));
  EXPECT_EQ(o.answer->content_type, "text/plain; charset=utf-8");
}

TEST(Boundary, DuplicateMetadataKeysFromAGuestKeepTheLaterValue) {
  Guest guest("misbehave");
  ASSERT_OK(guest.start_status());
  Outcome o = guest.Send("dup-metadata");
  ASSERT_TRUE(o.answer) << o;
  EXPECT_EQ(Text(*o.answer), "dup");
  EXPECT_THAT(o.answer->metadata.entries(), ElementsAre(Pair("k", "2")));
}

// 3. Hoarding host resources.

TEST(Boundary, HoardingMessagesIsMemoryAndTheHostGivesItBack) {
  // Default limits: 64 MiB of message data per instance, so each round
  // holds about 64 MiB in the host before it is stopped.
  Guest guest("misbehave");
  ASSERT_OK(guest.start_status());
  long first = 0;
  for (int round = 1; round <= 5; ++round) {
    SCOPED_TRACE(round);
    ASSERT_EQ(guest.ReasonFor("hoard"), "memory");
    ASSERT_EQ(guest.AnswerTo("round " + std::to_string(round)), "ok: round " + std::to_string(round));
    if (round == 1) first = ResidentKiB();
  }
  const long last = ResidentKiB();
  EXPECT_LE(last, first + 64 * 1024) << "RSS after round 1: " << first << " KiB, after round 5: " << last
                                     << " KiB";
}

TEST(Boundary, GuestMessageLimitsHaveTheirDefaults) {
  // 1024 messages and 64 MiB of their data per instance. The delivered
  // message and the report count too, so stay a little below each.
  Guest guest("misbehave");
  ASSERT_OK(guest.start_status());
  EXPECT_EQ(guest.AnswerTo("hoard 16 1000"), "hoarded 1000");
  EXPECT_EQ(guest.ReasonFor("hoard 16 1100"), "memory");
  EXPECT_EQ(guest.AnswerTo("hoard 1048576 60"), "hoarded 60");
  EXPECT_EQ(guest.ReasonFor("hoard 1048576 68"), "memory");
}

TEST(Boundary, GuestMessageLimitsAreConfigurable) {
  Guest bytes("misbehave", "max_guest_message_bytes = 4194304\n");
  ASSERT_OK(bytes.start_status());
  EXPECT_EQ(bytes.AnswerTo("hoard 1048576 3"), "hoarded 3");
  EXPECT_EQ(bytes.ReasonFor("hoard 1048576 5"), "memory");
  Guest count("misbehave", "max_guest_messages = 8\n");
  ASSERT_OK(count.start_status());
  EXPECT_EQ(count.AnswerTo("hoard 16 4"), "hoarded 4");
  EXPECT_EQ(count.ReasonFor("hoard 16 9"), "memory");
  EXPECT_EQ(count.AnswerTo("after"), "ok: after");
}

TEST(Boundary, ConnectPastMaxGuestClientsIsAnOtherErrorNamingTheLimit) {
  Guest guest("misbehave");
  ASSERT_OK(guest.start_status());
  const std::string text = guest.AnswerTo("hoard-clients");
  EXPECT_THAT(text, StartsWith("other: "));
  EXPECT_THAT(text, HasSubstr("max_guest_clients"));
  EXPECT_EQ(guest.AnswerTo("hoard-clients 64"), "connected 64");  // the default limit
  EXPECT_EQ(guest.AnswerTo("after"), "ok: after");
}

TEST(Boundary, MaxGuestClientsIsConfigurable) {
  Guest guest("misbehave", "max_guest_clients = 2\n");
  ASSERT_OK(guest.start_status());
  EXPECT_EQ(guest.AnswerTo("hoard-clients 2"), "connected 2");
  EXPECT_THAT(guest.AnswerTo("hoard-clients 3"), AllOf(StartsWith("other: "), HasSubstr("max_guest_clients")));
}

// 4. Stale handles.

TEST(Boundary, UsingAMessageAfterDroppingItTraps) {
  Guest guest("misbehave");
  ASSERT_OK(guest.start_status());
  EXPECT_EQ(guest.ReasonFor("use-after-drop"), "trap");
  EXPECT_EQ(guest.AnswerTo("after"), "ok: after");
}

// 5. The reason each failure is dead-lettered with.

TEST(Boundary, EachFailureGetsItsOwnDeadLetterReason) {
  Guest guest("misbehave", "handler_timeout_ms = 300\nmax_memory_bytes = 16777216\n");
  ASSERT_OK(guest.start_status());
  // An error is an error, whatever its text says.
  Outcome interrupt = guest.Send("fail-interrupt");
  EXPECT_EQ(interrupt.reason, "error") << interrupt;
  EXPECT_THAT(interrupt.last_error, HasSubstr("interrupt: fuel exhausted wasm trap"));
  EXPECT_EQ(guest.ReasonFor("fail"), "error");
  EXPECT_EQ(guest.ReasonFor("trap"), "trap");
  EXPECT_EQ(guest.ReasonFor("loop"), "timeout");
  EXPECT_EQ(guest.ReasonFor("grow"), "memory");
  EXPECT_EQ(guest.AnswerTo("after"), "ok: after");
}

TEST(Boundary, RunningOutOfFuelIsFuelNotTimeout) {
  Guest guest("misbehave", "handler_timeout_ms = 20000\nfuel_per_call = 50000000\n");
  ASSERT_OK(guest.start_status());
  EXPECT_EQ(guest.ReasonFor("loop"), "fuel");
  EXPECT_EQ(guest.ReasonFor("fail-interrupt"), "error");
  EXPECT_EQ(guest.AnswerTo("after"), "ok: after");
}

}  // namespace
}  // namespace ferry::testing
