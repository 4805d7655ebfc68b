// The guest boundary alone: echo components called through the engine with
// a broker that accepts every publish and does nothing, so what is timed is
// the engine, the guest and Ferry's host calls, not a broker or a thread
// hand-off. Two echoes: examples/echo forwards the message it gets (one
// host call, the payload never enters the guest); bench/guests/copy_echo
// reads the payload into guest memory and writes it back first. Beside
// them, in the same run, two memcpys of the payload into warm buffers (the
// least an echo that touches the payload must do), and the cost of a fresh
// instance.
//
//   ferry_engine_bench [--quick] [--only BYTES] [--long]
//
// --long runs 50 times as many calls (for a profiler).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "brokers/broker.h"
#include "wasm/engine.h"
#include "wasm/guest.h"

namespace {

using namespace ferry;
using Clock = std::chrono::steady_clock;

// Takes every publish; counts them so the compiler cannot drop the work.
class NullBroker final : public Broker {
 public:
  std::string DisplayUrl() const override { return "null://"; }
  BrokerCapabilities Capabilities() const override { return {}; }
  Status Connect() override { return Status::Ok(); }
  void Close() override {}
  ConnectionState State() const override { return ConnectionState::kConnected; }
  void OnStateChange(std::function<void(ConnectionState)>) override {}
  Status Publish(const Message& m, Deadline) override {
    bytes += m.data.size();
    return Status::Ok();
  }
  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions, DeliveryHandler) override {
    return Error::Unsupported("null broker");
  }
  Result<std::vector<Message>> Request(const Message&, const RequestOptions&) override {
    return Error::Unsupported("null broker");
  }
  std::uint64_t bytes = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Microseconds per call of `fn`, median of `rounds` rounds of `n` calls.
template <typename Fn>
double PerCall(int rounds, int n, Fn&& fn) {
  std::vector<double> us;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) fn();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n);
  }
  return Median(us);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::size_t only = 0;  // one payload size, for profiling
  int longer = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = std::stoul(argv[++i]);
    if (std::strcmp(argv[i], "--long") == 0) longer = 50;
  }
  auto engine = wasm::Engine::Create({.pooled_instances = 64});
  if (!engine.ok()) {
    std::fprintf(stderr, "engine: %s\n", engine.error().ToString().c_str());
    return 1;
  }
  NullBroker broker;
  auto services = std::make_shared<wasm::GuestServices>();
  services->component_name = "echo";
  services->allow_publish = {"echo.out"};
  services->max_message_bytes = 8u << 20;
  services->connect = [&](std::string_view) -> Result<Broker*> { return &broker; };
  struct Loaded {
    std::shared_ptr<wasm::CompiledComponent> compiled;
    std::unique_ptr<wasm::GuestInstance> instance;
  };
  auto load = [&](const char* file) {
    auto compiled = (*engine)->LoadComponent(std::string(FERRY_COMPONENT_DIR) + "/" + file);
    if (!compiled.ok()) {
      std::fprintf(stderr, "%s: %s\n", file, compiled.error().ToString().c_str());
      std::exit(1);
    }
    auto instance = (*compiled)->Instantiate(services);
    if (!instance.ok()) {
      std::fprintf(stderr, "instantiate %s: %s\n", file, instance.error().ToString().c_str());
      std::exit(1);
    }
    return Loaded{std::move(compiled).value(), std::move(instance).value()};
  };
  Loaded echo = load("echo.wasm");
  Loaded copy = load("copy_echo.wasm");

  std::printf("| payload | echo, forwards the message (µs) | copy echo, payload through guest memory (µs) "
              "| two memcpys (µs) | copy echo / memcpys |\n");
  std::printf("|---|---|---|---|---|\n");
  struct Case { std::size_t size; int n; const char* label; };
  const int scale = quick ? 10 : 1;
  for (const Case& c : {Case{16, 20000, "16 B"}, Case{1024, 20000, "1 KiB"},
                        Case{65536, 5000, "64 KiB"}, Case{1 << 20, 500, "1 MiB"}}) {
    if (only != 0 && c.size != only) continue;
    Message m;
    m.topic = "echo.in";
    m.data = Bytes(std::vector<std::uint8_t>(c.size, 'x'));
    m.content_type = "application/octet-stream";
    m.metadata.Set("bench", "1");
    const wasm::Inbound in{&m, &broker};
    const int n = std::max(1, c.n / scale) * longer;
    auto timed = [&](Loaded& l) {
      return PerCall(5, n, [&] {
        auto out = l.instance->Handle({&in, 1}, Clock::now());
        if (!out.status.ok()) {
          std::fprintf(stderr, "handle: %s\n", out.status.error().ToString().c_str());
          std::exit(1);
        }
      });
    };
    const double forwarded = timed(echo);
    const double copied = timed(copy);
    std::vector<std::uint8_t> a(c.size), b(c.size);
    const double copies = PerCall(5, n, [&] {
      std::memcpy(a.data(), m.data.data(), c.size);
      std::memcpy(b.data(), a.data(), c.size);
      asm volatile("" : : "r"(a.data()), "r"(b.data()) : "memory");
    });
    std::printf("| %s | %.2f | %.2f | %.2f | %.1f |\n", c.label, forwarded, copied, copies, copied / copies);
    std::fflush(stdout);
  }

  const double fresh = PerCall(5, (quick ? 50 : 500) * longer, [&] {
    auto made = echo.compiled->Instantiate(services);
    if (!made.ok()) std::exit(1);
  });
  std::printf("\n| fresh instance of echo (pooling allocator) | %.1f µs |\n|---|---|\n", fresh);
  return broker.bytes > 0 ? 0 : 1;
}
