// The async shape of wasi:messaging (WASI 0.3) end to end, on the embedded
// broker and on NATS: every function of the variant, many handle calls in
// flight on one instance, a trap and a request timeout while others are in
// flight, and shutdown with calls in flight.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/responder.h"
#include "support/server_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

ServerProcess& Nats() {
  static ServerProcess server("nats-server", {"nats-server", "-a", "127.0.0.1", "-p", "$PORT"});
  EXPECT_OK(server.Start());
  return server;
}

std::string Brokers(const std::string& broker) {
  if (broker == "mem") return "";
  return "[brokers]\ndefault = \"nats://127.0.0.1:" + std::to_string(Nats().port()) + "\"\n";
}

// The probe's input topics (what it sends goes elsewhere, not back to it).
constexpr char kProbeTopics[] =
    "subscribe = [\"probe.echo\", \"probe.hold\", \"probe.ask\", \"probe.fan\", \"probe.reply\", "
    "\"probe.props\", \"probe.connect\", \"probe.trap\", \"probe.spin\", \"probe.decide\"]\n";

std::string Probe(const std::string& broker, const std::string& extra = "") {
  return Brokers(broker) +
         "[[component]]\nname = \"probe\"\npath = \"$COMPONENTS/async_probe.wasm\"\n" + kProbeTopics +
         "max_attempts = 1\n" + extra;
}

TEST(AsyncShape, InspectNamesTheAsyncShape) {
  for (const char* name : {"async_probe", "async_echo"}) {
    auto d = DescribeComponent(Component(name));
    ASSERT_OK(d);
    EXPECT_THAT(d->shape, HasSubstr("0.2.0-draft, async")) << name;
    EXPECT_OK(d->runnable);
  }
  // The same names and version with synchronous functions stay the 2025 shape.
  auto sync = DescribeComponent(Component("echo"));
  ASSERT_OK(sync);
  EXPECT_THAT(sync->shape, ::testing::Not(HasSubstr("async")));
}

TEST(AsyncShape, MaxConcurrentPerInstanceIsValidated) {
  RunningHost host(Probe("mem", "max_concurrent_per_instance = 0\n"));
  ASSERT_FALSE(host.start_status().ok());
  EXPECT_THAT(host.start_status().error().message(), HasSubstr("max_concurrent_per_instance"));
}

// A traceparent's trace and span ids ("" when it is malformed).
std::pair<std::string, std::string> TraceAndSpan(std::string_view traceparent) {
  if (traceparent.size() != 55) return {};
  return {std::string(traceparent.substr(3, 32)), std::string(traceparent.substr(36, 16))};
}

TEST(AsyncShape, SendsRequestsAndRepliesCarryTheirCallsTraceContext) {
  constexpr char kParent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  LogCapture log;
  RunningHost host("[host]\ntracing = true\n"
                   "[[component]]\nname = \"asker\"\npath = \"$COMPONENTS/async_ask_echo.wasm\"\n"
                   "subscribe = [\"in\"]\n"
                   "[[component]]\nname = \"probe\"\npath = \"$COMPONENTS/async_probe.wasm\"\n"
                   "subscribe = [\"probe.reply\"]\n",
                   "info");
  ASSERT_OK(host.start_status());
  Responder service(host, "echo.service");
  Inbox& out = host.Listen("echo.out");
  ASSERT_OK(host.Publish("in", "traced", Metadata{{"traceparent", kParent}}));
  auto echoed = out.WaitFor(1);
  ASSERT_EQ(echoed.size(), 1u);
  // The request and the send made by one call carry that call's span, in
  // the delivery's trace.
  const auto [trace, span] = TraceAndSpan(echoed[0].metadata.Get("traceparent").value_or(""));
  EXPECT_EQ(trace, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_NE(span, "b7ad6b7169203331");
  EXPECT_EQ(TraceAndSpan(service.traceparent()), std::make_pair(trace, span));
  // The call's span is logged, its parent the delivery's.
  EXPECT_TRUE(log.WaitFor("asker: span trace=" + trace + " span=" + span + " parent=b7ad6b7169203331"));

  // A reply from the guest carries the span of the call that made it.
  Message request;
  request.topic = "probe.reply";
  request.data = Bytes::FromString("q");
  request.metadata.Set("traceparent", kParent);
  auto replies = host.host().Request("default", request, 10s, 1);
  ASSERT_OK(replies);
  ASSERT_EQ(replies->size(), 1u);
  const auto [reply_trace, reply_span] = TraceAndSpan((*replies)[0].metadata.Get("traceparent").value_or(""));
  EXPECT_EQ(reply_trace, trace);
  EXPECT_NE(reply_span, span);
  EXPECT_TRUE(log.WaitFor("probe: span trace=" + trace + " span=" + reply_span));
}

class AsyncShapeOn : public ::testing::TestWithParam<std::string> {};

TEST_P(AsyncShapeOn, EchoesThroughAsyncSend) {
  RunningHost host(Brokers(GetParam()) +
                   "[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/async_echo.wasm\"\n"
                   "subscribe = [\"in\"]\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("echo.out");
  for (int i = 0; i < 20; ++i) ASSERT_OK(host.Publish("in", "m" + std::to_string(i)));
  EXPECT_EQ(out.WaitFor(20).size(), 20u);
  EXPECT_EQ(host.SettledStats("echo", 20).handled, 20u);
}

TEST_P(AsyncShapeOn, MessageMethodsAndDisconnect) {
  RunningHost host(Probe(GetParam()));
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("probe.props.out");
  Metadata md;
  md.Set("k", "v");
  ASSERT_OK(host.Publish("probe.props", "hello", md, "text/plain"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "hello");
  EXPECT_EQ(got[0].content_type.value_or(""), "text/x-probe");
  EXPECT_EQ(got[0].metadata.Get("in-topic").value_or(""), "probe.props");
  EXPECT_EQ(got[0].metadata.Get("in-content-type").value_or(""), "text/plain");
  EXPECT_EQ(got[0].metadata.Get("in-k").value_or(""), "v");
  EXPECT_FALSE(got[0].metadata.Get("dropped").has_value());
  // The guest checked that a send on its disconnected client fails.
  const ComponentStats s = host.SettledStats("probe", 1);
  EXPECT_EQ(s.handled, 1u);
  EXPECT_EQ(s.failed, 0u);
}

TEST_P(AsyncShapeOn, ConnectToAnUnknownNameFails) {
  RunningHost host(Probe(GetParam()));
  ASSERT_OK(host.start_status());
  ASSERT_OK(host.Publish("probe.connect", ""));
  const ComponentStats s = host.SettledStats("probe", 1);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.handled, 0u);
}

TEST_P(AsyncShapeOn, RequestAndReply) {
  RunningHost host(Probe(GetParam()));
  ASSERT_OK(host.start_status());
  Responder service(host, "probe.service");
  Inbox& answers = host.Listen("probe.answer");
  ASSERT_OK(host.Publish("probe.ask", "q1"));
  auto got = answers.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "answer:q1");

  // The guest replies to a request made from outside.
  Message request;
  request.topic = "probe.reply";
  request.data = Bytes::FromString("q2");
  auto replies = host.host().Request("default", request, 10s, 1);
  ASSERT_OK(replies);
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ(Text((*replies)[0]), "re:q2");
}

TEST_P(AsyncShapeOn, SendsManyMessagesConcurrentlyFromOneCall) {
  RunningHost host(Probe(GetParam()));
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("probe.fan.out");
  ASSERT_OK(host.Publish("probe.fan", "25"));
  EXPECT_EQ(out.WaitFor(25).size(), 25u);
  EXPECT_EQ(host.SettledStats("probe", 1).handled, 1u);
}

TEST_P(AsyncShapeOn, TheFanOutExampleSendsEachOfItsMessagesOnce) {
  RunningHost host(Brokers(GetParam()) +
                   "[[component]]\nname = \"fan\"\npath = \"$COMPONENTS/async_fanout.wasm\"\n"
                   "subscribe = [\"fan.in\"]\nmax_attempts = 1\ndead_letter = \"fan.dead\"\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("fanout.out");
  Inbox& dead = host.Listen("fan.dead");
  ASSERT_OK(host.Publish("fan.in", "25"));
  auto got = out.WaitFor(25);
  ASSERT_EQ(got.size(), 25u);
  std::set<std::string> texts;
  for (const Message& m : got) texts.insert(Text(m));
  EXPECT_EQ(texts.size(), 25u);
  EXPECT_TRUE(texts.contains("1/25") && texts.contains("25/25"));
  EXPECT_EQ(host.SettledStats("fan", 1).handled, 1u);
  // A count it cannot use is the interface's error.
  ASSERT_OK(host.Publish("fan.in", "lots"));
  auto letters = dead.WaitFor(1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_THAT(std::string(letters[0].metadata.Get("ferry-last-error").value_or("")),
              HasSubstr("want a count from 1 to 1000"));
  EXPECT_EQ(out.Snapshot().size(), 25u);
}

TEST_P(AsyncShapeOn, TenCallsInFlightOnOneInstance) {
  // One instance; the gate answers only once ten requests wait, which only
  // ten calls in flight at once can make happen.
  RunningHost host(Probe(GetParam(), "workers = 1\nmax_concurrent_per_instance = 16\n"));
  ASSERT_OK(host.start_status());
  Responder gate(host, "probe.gate");
  gate.Hold(10);
  Inbox& held = host.Listen("probe.held");
  for (int i = 0; i < 10; ++i) ASSERT_OK(host.Publish("probe.hold", std::to_string(i)));
  auto got = held.WaitFor(10);
  ASSERT_EQ(got.size(), 10u);
  // What the guest saw: ten of its calls in flight at once.
  for (const Message& m : got) EXPECT_EQ(Text(m), "10");
  const ComponentStats s = host.SettledStats("probe", 10);
  EXPECT_EQ(s.handled, 10u);
}

TEST_P(AsyncShapeOn, ConcurrencyIsBoundedPerInstance) {
  RunningHost host(Probe(GetParam(), "workers = 1\nmax_concurrent_per_instance = 3\n"));
  ASSERT_OK(host.start_status());
  Responder gate(host, "probe.gate");
  gate.Hold();
  Inbox& held = host.Listen("probe.held");
  for (int i = 0; i < 5; ++i) ASSERT_OK(host.Publish("probe.hold", std::to_string(i)));
  ASSERT_TRUE(gate.WaitHeld(3));
  gate.Open();  // answers these three and every later one at once
  auto got = held.WaitFor(5);
  ASSERT_EQ(got.size(), 5u);
  for (const Message& m : got) EXPECT_LE(std::stoi(Text(m)), 3);
}

TEST_P(AsyncShapeOn, TrapFailsTheCallsInFlightOnItsInstanceOnly) {
  // One attempt each: a retried trap would end the retried calls again.
  RunningHost host(Probe(GetParam(), "workers = 1\n"));
  ASSERT_OK(host.start_status());
  Responder gate(host, "probe.gate");
  gate.Hold();
  for (int i = 0; i < 3; ++i) ASSERT_OK(host.Publish("probe.hold", std::to_string(i)));
  ASSERT_TRUE(gate.WaitHeld(3));
  ASSERT_OK(host.Publish("probe.trap", ""));
  // The trap ends the instance: the three calls waiting on it fail as
  // attempts with it (and, out of attempts, are given up).
  const ComponentStats failed =
      host.WaitForStats("probe", [](const ComponentStats& s) { return s.given_up >= 4; });
  EXPECT_EQ(failed.failed, 4u);
  EXPECT_EQ(failed.given_up, 4u);
  EXPECT_EQ(failed.handled, 0u);
  // The next calls run on a fresh instance.
  gate.Open();
  Inbox& held = host.Listen("probe.held");
  for (int i = 0; i < 3; ++i) ASSERT_OK(host.Publish("probe.hold", std::to_string(i)));
  EXPECT_EQ(held.WaitFor(3).size(), 3u);
  EXPECT_EQ(host.SettledStats("probe", 7).handled, 3u);
}

TEST_P(AsyncShapeOn, CallsFailedWithTheirInstanceAreRetried) {
  // probe.decide asks probe.decide.service whether to trap: yes the first
  // time only. The calls in flight when it traps fail with their instance
  // and are tried again, as the trapping one is, on a fresh instance.
  RunningHost host(Brokers(GetParam()) +
                   "[[component]]\nname = \"probe\"\npath = \"$COMPONENTS/async_probe.wasm\"\n" +
                   kProbeTopics + "max_attempts = 3\nretry_delay_ms = 20\nworkers = 1\n");
  ASSERT_OK(host.start_status());
  std::atomic<int> asked{0};
  auto decider = host.host().Listen("default", "probe.decide.service", [&](const Message& m) {
    Message reply;
    reply.topic = m.reply_to;
    reply.data = Bytes::FromString(asked.fetch_add(1) == 0 ? "trap" : "go on");
    (void)host.host().Publish("default", reply);
  });
  ASSERT_OK(decider);
  Responder gate(host, "probe.gate");
  gate.Hold();
  for (int i = 0; i < 3; ++i) ASSERT_OK(host.Publish("probe.hold", std::to_string(i)));
  ASSERT_TRUE(gate.WaitHeld(3));
  ASSERT_OK(host.Publish("probe.decide", ""));
  host.WaitForStats("probe", [](const ComponentStats& s) { return s.failed >= 4; });
  gate.Open();
  const ComponentStats s =
      host.WaitForStats("probe", [](const ComponentStats& s) { return s.handled >= 4; });
  EXPECT_EQ(s.failed, 4u);
  EXPECT_EQ(s.handled, 4u);
  EXPECT_EQ(s.given_up, 0u);
  decider->reset();
}

TEST_P(AsyncShapeOn, CallPastItsDeadlineIsInterrupted) {
  // A call that never yields is cut off at handler_timeout_ms (epoch
  // interruption) with the calls in flight beside it; the instance after it
  // is a fresh one.
  RunningHost host(Probe(GetParam(), "workers = 1\n") + "[limits]\nhandler_timeout_ms = 300\n");
  ASSERT_OK(host.start_status());
  Responder gate(host, "probe.gate");
  gate.Hold();
  ASSERT_OK(host.Publish("probe.hold", "waiting"));
  ASSERT_TRUE(gate.WaitHeld(1));
  ASSERT_OK(host.Publish("probe.spin", ""));
  const ComponentStats s = host.SettledStats("probe", 2);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.handled, 0u);
  Inbox& out = host.Listen("probe.out");
  ASSERT_OK(host.Publish("probe.echo", "after"));
  EXPECT_EQ(out.WaitFor(1).size(), 1u);
}

TEST(AsyncShape, GuestImportingWasi03Runs) {
  // WASI 0.3 is linked beside 0.2 for this shape; the guest reads its clock.
  RunningHost host("[[component]]\nname = \"p3\"\npath = \"$COMPONENTS/async_p3.wasm\"\n"
                   "subscribe = [\"in\"]\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("probe.out");
  ASSERT_OK(host.Publish("in", "x"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "p3 clock ok");
}

TEST(AsyncShape, PythonEchoRunsManyCallsAtOnce) {
  RunningHost host("[[component]]\nname = \"echo\"\npath = \"$COMPONENTS/async_echo_py.wasm\"\n"
                   "subscribe = [\"in\"]\nworkers = 1\n");
  ASSERT_OK(host.start_status());
  Inbox& out = host.Listen("echo.out");
  for (int i = 0; i < 50; ++i) ASSERT_OK(host.Publish("in", "m" + std::to_string(i)));
  auto got = out.WaitFor(50);
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(host.SettledStats("echo", 50).handled, 50u);
}

TEST_P(AsyncShapeOn, RequestTimesOutWhileOtherCallsComplete) {
  RunningHost host(Probe(GetParam(), "workers = 1\n"));
  ASSERT_OK(host.start_status());
  Responder service(host, "probe.service");
  service.Silence("nobody-answers");
  Inbox& answers = host.Listen("probe.answer");
  Metadata md;
  md.Set("timeout-ms", "5000");
  ASSERT_OK(host.Publish("probe.ask", "nobody-answers", md));
  // Without a timeout a request returns at its first reply.
  for (int i = 0; i < 5; ++i) ASSERT_OK(host.Publish("probe.ask", "q" + std::to_string(i)));
  // The five answered calls end while the silent one still waits.
  EXPECT_EQ(answers.WaitFor(5).size(), 5u);
  EXPECT_EQ(host.StatsOf("probe").failed, 0u);
  const ComponentStats s = host.SettledStats("probe", 6);
  EXPECT_EQ(s.handled, 5u);
  EXPECT_EQ(s.failed, 1u);  // error timeout, returned by the guest
}

TEST_P(AsyncShapeOn, ShutdownLetsCallsInFlightFinishWithinTheGrace) {
  RunningHost host(Probe(GetParam(), "workers = 1\n"));
  ASSERT_OK(host.start_status());
  Responder gate(host, "probe.gate");
  gate.Hold();
  for (int i = 0; i < 4; ++i) ASSERT_OK(host.Publish("probe.hold", std::to_string(i)));
  ASSERT_TRUE(gate.WaitHeld(4));
  std::thread stopper([&] { host.host().Stop(20s); });
  // Stopping waits for them: answered now, they end as handled (their sends
  // to probe.held confirmed by the broker).
  gate.Open();
  stopper.join();
  const ComponentStats s = host.StatsOf("probe");
  EXPECT_EQ(s.handled, 4u);
  EXPECT_EQ(s.released + s.given_up, 0u);
}

TEST_P(AsyncShapeOn, ShutdownReleasesCallsStillInFlightAtTheDeadline) {
  // The calls wait on requests that could wait 30 s for their replies.
  RunningHost host(Probe(GetParam(), "workers = 1\n") + "[limits]\nhandler_timeout_ms = 30000\n");
  ASSERT_OK(host.start_status());
  Responder gate(host, "probe.gate");
  gate.Hold();
  for (int i = 0; i < 4; ++i) ASSERT_OK(host.Publish("probe.hold", std::to_string(i)));
  ASSERT_TRUE(gate.WaitHeld(4));
  const auto stopping = std::chrono::steady_clock::now();
  host.host().Stop(200ms);
  // The requests stop waiting with their calls: stopping does not wait out
  // their timeouts (the bound is loose: the machine may be loaded).
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 15s);
  const ComponentStats s = host.StatsOf("probe");
  EXPECT_EQ(s.handled, 0u);
  EXPECT_EQ(s.failed, 0u);  // not attempts: stopped, not failed
  // None lost: back to a broker that redelivers, or (core NATS cannot)
  // settled as shutdown.
  EXPECT_EQ(s.released + s.given_up, 4u);
}

INSTANTIATE_TEST_SUITE_P(Brokers, AsyncShapeOn, ::testing::Values("mem", "nats"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ferry::testing
