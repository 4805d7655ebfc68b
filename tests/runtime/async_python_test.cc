// Python guests of the async shape (WASI 0.3, componentize-py `async def
// handle`) end to end on the embedded broker: async_ask_echo_py, whose
// handler waits on a request before it sends, and async_fanout_py, which
// sends many messages from one call with asyncio.gather. Concurrency is
// shown by gates that only concurrent work opens: a responder that answers
// once ten requests wait, and confirmations the broker holds until enough
// sends are out together (faulty://).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "brokers/registry.h"
#include "support/faulty_host.h"
#include "support/host_fixture.h"
#include "support/responder.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

std::string AskEcho(const std::string& extra = "") {
  return "[[component]]\nname = \"ask\"\npath = \"$COMPONENTS/async_ask_echo_py.wasm\"\n"
         "subscribe = [\"in\"]\n" + extra;
}

TEST(AsyncPython, AskEchoCarriesTheReplyItWaitedFor) {
  RunningHost host(AskEcho());
  ASSERT_OK(host.start_status());
  Responder service(host, "echo.service");
  Inbox& out = host.Listen("echo.out");
  ASSERT_OK(host.Publish("in", "q1"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "q1");
  EXPECT_EQ(got[0].metadata.Get("echo-reply").value_or("(none)"), "answer:q1");
  EXPECT_EQ(service.seen(), 1u);
  const ComponentStats s = host.SettledStats("ask", 1);
  EXPECT_EQ(s.handled, 1u);
  EXPECT_EQ(s.failed, 0u);
}

TEST(AsyncPython, AskEchoWaitsOnTenRequestsAtOnceOnOneInstance) {
  // One instance; the service answers only once ten requests wait, which
  // only ten handle calls in flight at once can make happen.
  RunningHost host(AskEcho("workers = 1\nmax_concurrent_per_instance = 16\n"));
  ASSERT_OK(host.start_status());
  Responder service(host, "echo.service");
  service.Hold(10);
  Inbox& out = host.Listen("echo.out");
  for (int i = 0; i < 10; ++i) ASSERT_OK(host.Publish("in", "m" + std::to_string(i)));
  auto got = out.WaitFor(10);
  ASSERT_EQ(got.size(), 10u);
  for (const Message& m : got)
    EXPECT_EQ(m.metadata.Get("echo-reply").value_or("(none)"), "answer:" + Text(m));
  EXPECT_EQ(host.SettledStats("ask", 10).handled, 10u);
}

TEST(AsyncPython, ARequestThatTimesOutIsTheGuestsErrorWhileOthersComplete) {
  // Nobody answers "silent": after max_request_ms the guest's request raises
  // the interface's timeout error, and its handler ends with it (the
  // delivery dead-lettered as the handler's error, not the host's timeout).
  // The calls beside it on the same instance are answered and end while it
  // still waits.
  RunningHost host(AskEcho("workers = 1\nmax_attempts = 1\ndead_letter = \"dead\"\n") +
                   "[limits]\nmax_request_ms = 4000\n");
  ASSERT_OK(host.start_status());
  Responder service(host, "echo.service");
  service.Silence("silent");
  Inbox& out = host.Listen("echo.out");
  Inbox& dead = host.Listen("dead");
  ASSERT_OK(host.Publish("in", "silent"));
  for (int i = 0; i < 3; ++i) ASSERT_OK(host.Publish("in", "q" + std::to_string(i)));
  EXPECT_EQ(out.WaitFor(3).size(), 3u);
  EXPECT_EQ(host.StatsOf("ask").failed, 0u);
  auto died = dead.WaitFor(1);
  ASSERT_EQ(died.size(), 1u);
  EXPECT_EQ(Text(died[0]), "silent");
  EXPECT_EQ(died[0].metadata.Get("ferry-dead-letter-reason").value_or(""), "error");
  EXPECT_EQ(died[0].metadata.Get("ferry-last-error").value_or(""),
            "handler returned error timeout");
  const ComponentStats s = host.SettledStats("ask", 4);
  EXPECT_EQ(s.handled, 3u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(out.Snapshot().size(), 3u);  // the silent one was never echoed
}

// async_fanout_py on the embedded broker wrapped in a FaultyBroker, whose
// confirmations of the guest's sends can be held.
class AsyncPythonFanOut : public FaultyHostTest {
 protected:
  std::unique_ptr<RunningHost> Host(const std::string& extra) {
    return FaultyHost("[[component]]\nname = \"fan\"\npath = \"$COMPONENTS/async_fanout_py.wasm\"\n"
                      "subscribe = [\"fan.in\"]\nmax_attempts = 1\n" + extra);
  }
  // The most calls in flight the guest saw, over the messages it sent.
  static int MostInFlight(const std::vector<Message>& sent) {
    int most = 0;
    for (const Message& m : sent) {
      const std::string seen(m.metadata.Get("calls-in-flight").value_or("0"));
      most = std::max(most, std::stoi(seen));
    }
    return most;
  }
};

TEST_F(AsyncPythonFanOut, OneCallSendsAllItsMessagesAtOnce) {
  // No send is confirmed until all 25 are out together: only sends started
  // before any is waited for get there.
  faults_->confirm_once_unconfirmed = 25;
  auto host = Host("");
  Inbox& out = host->Listen("fanout.out");
  ASSERT_OK(host->Publish("fan.in", "25"));
  const ComponentStats s = host->SettledStats("fan", 1);
  EXPECT_EQ(s.handled, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(faults_->peak_unconfirmed.load(), 25);
  ExpectOneAckAfterAllConfirmed(*faults_, 25);
  ASSERT_EQ(out.WaitFor(25).size(), 25u);
  const auto tally = Tally(out);
  ASSERT_EQ(tally.size(), 25u);
  for (int i = 1; i <= 25; ++i) EXPECT_EQ(tally.count(std::to_string(i) + "/25"), 1u) << i;
}

TEST_F(AsyncPythonFanOut, SeveralCallsSendAtOnceOnOneInstance) {
  // One instance; confirmations are held until four calls' five sends each
  // are out together, which only four calls in flight at once can make
  // happen. The guest saw them too: the last to start counted four.
  faults_->confirm_once_unconfirmed = 20;
  auto host = Host("workers = 1\nmax_concurrent_per_instance = 8\n");
  Inbox& out = host->Listen("fanout.out");
  for (int i = 0; i < 4; ++i) ASSERT_OK(host->Publish("fan.in", "5"));
  const ComponentStats s = host->SettledStats("fan", 4);
  EXPECT_EQ(s.handled, 4u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(faults_->peak_unconfirmed.load(), 20);
  auto sent = out.WaitFor(20);
  ASSERT_EQ(sent.size(), 20u);
  EXPECT_EQ(MostInFlight(sent), 4);
}

TEST_F(AsyncPythonFanOut, OneCallAtATimeWithMaxConcurrentOne) {
  // The bound holds for a Python guest too: with slow confirmations and
  // deliveries waiting, its calls still run one by one.
  faults_->confirm_delay_ms = 20;
  auto host = Host("workers = 1\nmax_concurrent_per_instance = 1\n");
  Inbox& out = host->Listen("fanout.out");
  for (int i = 0; i < 4; ++i) ASSERT_OK(host->Publish("fan.in", "5"));
  EXPECT_EQ(host->SettledStats("fan", 4).handled, 4u);
  auto sent = out.WaitFor(20);
  ASSERT_EQ(sent.size(), 20u);
  EXPECT_EQ(MostInFlight(sent), 1);
  EXPECT_LE(faults_->peak_unconfirmed.load(), 5);
}

TEST_F(AsyncPythonFanOut, ACountItCannotUseIsTheGuestsError) {
  auto host = Host("dead_letter = \"dead\"\n");
  Inbox& dead = host->Listen("dead");
  ASSERT_OK(host->Publish("fan.in", "many"));
  auto died = dead.WaitFor(1);
  ASSERT_EQ(died.size(), 1u);
  EXPECT_EQ(died[0].metadata.Get("ferry-dead-letter-reason").value_or(""), "error");
  EXPECT_THAT(died[0].metadata.Get("ferry-last-error").value_or(""),
              HasSubstr("async_fanout: want a count from 1 to 1000, got 'many'"));
}

}  // namespace
}  // namespace ferry::testing
