// Request-reply round trips through the greeter example component, beside a
// native responder doing the same ("hello, " + request, text/plain) on the
// same host and broker (mem://), in alternating requests. Each request goes
// through Host::Request: private inbox subscription, publish, the responder,
// reply publish, wake-up. The difference of the two is what the component
// adds.
//
//   ferry_request_bench [--quick] [--requests N]
#include <chrono>
#include <cstdio>
#include <string>
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
  const int requests = IntFlag(argc, argv, "--requests", quick ? 500 : 5000);
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
  std::vector<double> comp, nat;
  for (int i = 0; i < warm + requests; ++i) {
    // Alternate which goes first, so neither always follows the other.
    double c, n;
    if (i % 2) {
      c = RoundTrip(host, to_greeter);
      n = RoundTrip(host, to_native);
    } else {
      n = RoundTrip(host, to_native);
      c = RoundTrip(host, to_greeter);
    }
    if (i < warm) continue;
    comp.push_back(c);
    nat.push_back(n);
  }

  std::printf("### Request-reply on the embedded broker\n\n");
  std::printf("%d requests to each responder, alternating, after %d of warm-up; 5-byte request, "
              "one reply, through Host::Request.\n\n", requests, warm);
  std::printf("| responder | p50 (µs) | p90 (µs) | p99 (µs) |\n|---|---|---|---|\n");
  std::printf("| native C++ responder (Host::Listen + Host::Publish) | %.1f | %.1f | %.1f |\n",
              Percentile(nat, 0.5), Percentile(nat, 0.9), Percentile(nat, 0.99));
  std::printf("| greeter component | %.1f | %.1f | %.1f |\n", Percentile(comp, 0.5),
              Percentile(comp, 0.9), Percentile(comp, 0.99));
  const double added = Percentile(comp, 0.99) - Percentile(nat, 0.99);
  std::printf("| added by the component | %.1f | %.1f | %.1f |\n\n",
              Percentile(comp, 0.5) - Percentile(nat, 0.5), Percentile(comp, 0.9) - Percentile(nat, 0.9),
              added);
  std::printf("Added p99: %.1f µs (target ≤ 50 µs: %s).\n\n", added, Verdict(added <= 50));
  native->reset();
  host.Stop(std::chrono::milliseconds(1000));
  std::filesystem::remove(config);
  return 0;
}
