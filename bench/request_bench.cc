// Request-reply round trips through the greeter example component, beside a
// native responder doing the same ("hello, " + request, text/plain) on the
// same host and broker (mem://), in alternating requests. Each request goes
// through Host::Request: private inbox subscription, publish, the responder,
// reply publish, wake-up. The difference of the two is what the component
// adds. A p99 on two shared cores is at the mercy of whatever else runs, so
// the requests come in rounds: percentiles are taken per round and the
// medians over rounds printed (the added ones are medians of the per-round
// differences).
//
//   ferry_request_bench [--quick] [--rounds N] [--requests N-per-round]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.h"
#include "echo_paths.h"
#include "ferry/host.h"

using namespace ferry;
using namespace ferry::bench;

namespace {

// Microseconds for one request with one reply; exits on a wrong reply.
double RoundTrip(Host& host, const Message& req) {
  const auto start = std::chrono::steady_clock::now();
  auto replies = host.Request("default", req, std::chrono::milliseconds(5000), 1);
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  if (!replies.ok() || replies->size() != 1 || (*replies)[0].data.view() != "hello, bench") {
    std::fprintf(stderr, "request to %s failed: %s\n", req.topic.c_str(),
                 replies.ok() ? "wrong reply" : replies.error().ToString().c_str());
    std::exit(1);
  }
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = HasFlag(argc, argv, "--quick");
  const int rounds = IntFlag(argc, argv, "--rounds", quick ? 3 : 7);
  const int requests = IntFlag(argc, argv, "--requests", quick ? 500 : 2000);
  const int warm = 200;
  (void)SetLogLevel("error");

  auto config = WriteConfig("ferry-bench-request",
      "[host]\nlog_level = \"error\"\n[brokers]\ndefault = \"mem://\"\n"
      "[[component]]\nname = \"greeter\"\npath = \"" + std::string(FERRY_COMPONENT_DIR) +
      "/greeter.wasm\"\nsubscribe = [\"greet\"]\n");
  auto created = Host::Create({.config_file = config});
  if (!created.ok() || !(*created)->Start().ok()) {
    std::fprintf(stderr, "cannot start the host: %s\n",
                 created.ok() ? "Start failed" : created.error().ToString().c_str());
    return 1;
  }
  Host& host = **created;
  auto native = host.Listen("default", "greet.native", [&host](const Message& in) {
    Message reply;
    reply.topic = in.reply_to;
    std::string body = "hello, ";
    body.append(in.data.view());
    reply.data = Bytes::FromString(body);
    reply.content_type = "text/plain";
    (void)host.Publish("default", reply);
  });
  if (!native.ok()) {
    std::fprintf(stderr, "cannot listen: %s\n", native.error().ToString().c_str());
    return 1;
  }

  Message to_greeter;
  to_greeter.topic = "greet";
  to_greeter.data = Bytes::FromString("bench");
  Message to_native = to_greeter;
  to_native.topic = "greet.native";
  struct Pcts { std::vector<double> p50, p90, p99; };
  Pcts comp_p, nat_p, added;
  std::uint64_t total = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> comp, nat;
    for (int i = 0; i < (r == 0 ? warm : 0) + requests; ++i) {
      // Alternate which goes first, so neither always follows the other.
      double c, n;
      if (i % 2) {
        c = RoundTrip(host, to_greeter);
        n = RoundTrip(host, to_native);
      } else {
        n = RoundTrip(host, to_native);
        c = RoundTrip(host, to_greeter);
      }
      if (r == 0 && i < warm) continue;
      comp.push_back(c);
      nat.push_back(n);
    }
    total += comp.size();
    for (auto [p, field] : {std::pair{0.5, &Pcts::p50}, std::pair{0.9, &Pcts::p90}, std::pair{0.99, &Pcts::p99}}) {
      (comp_p.*field).push_back(Percentile(comp, p));
      (nat_p.*field).push_back(Percentile(nat, p));
      (added.*field).push_back(Percentile(comp, p) - Percentile(nat, p));
    }
  }

  std::printf("### Request-reply on the embedded broker\n\n");
  std::printf("%d rounds of %d requests to each responder, alternating, after %d of warm-up; "
              "5-byte request, one reply, through Host::Request. Medians over rounds of each "
              "round's percentiles, and the range of the p99s.\n\n",
              rounds, requests, warm);
  auto row = [](const char* label, const Pcts& p) {
    std::vector<double> p99 = p.p99;
    std::sort(p99.begin(), p99.end());
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f – %.1f |\n", label, Median(p.p50), Median(p.p90),
                Median(p.p99), p99.front(), p99.back());
  };
  std::printf("| responder | p50 (µs) | p90 (µs) | p99 (µs) | p99 range over rounds (µs) |\n|---|---|---|---|---|\n");
  row("native C++ responder (Host::Listen + Host::Publish)", nat_p);
  row("greeter component", comp_p);
  row("added by the component", added);
  const double added99 = Median(added.p99);
  std::printf("\nAdded p99: %.1f µs (target ≤ 50 µs: %s); %llu requests to each.\n\n", added99,
              Verdict(added99 <= 50), static_cast<unsigned long long>(total));
  native->reset();
  host.Stop(std::chrono::milliseconds(1000));
  std::filesystem::remove(config);
  return 0;
}
