// The two kinds of echo the embedded-broker benchmarks compare, behind one
// interface: publish to echo.in, count what arrives on echo.out.
//   EchoHost    a Host running one echo-like component on its own mem://
//               broker (each host has its own, so several can live side by
//               side and be measured in interleaved rounds);
//   NativeEcho  a bare embedded broker with a C++ subscriber doing the echo:
//               the same publish → subscriber → publish → subscriber hops,
//               the floor the components are measured against.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "brokers/broker.h"
#include "brokers/registry.h"
#include "ferry/host.h"

namespace ferry::bench {

class EchoPath {
 public:
  virtual ~EchoPath() = default;
  virtual Status Publish(const Message& m) = 0;
  Counter& arrived() { return arrived_; }
  // Pumps `count` copies of `m` and checks that every echo carried the
  // whole payload (exits if not: a short echo would flatter the figures).
  PumpResult Run(const Message& m, std::uint64_t count) {
    const std::uint64_t before = bytes_.load();
    const PumpResult r = Pump([this](const Message& msg) { return Publish(msg); }, arrived_, m, count);
    if (bytes_.load() - before != count * m.data.size()) {
      std::fprintf(stderr, "echoes carried %llu bytes, expected %llu\n",
                   static_cast<unsigned long long>(bytes_.load() - before),
                   static_cast<unsigned long long>(count * m.data.size()));
      std::exit(1);
    }
    return r;
  }

 protected:
  // Called for each echo that arrives on echo.out.
  void Arrived(const Message& echo) {
    bytes_.fetch_add(echo.data.size());
    arrived_.Add();
  }

 private:
  Counter arrived_;
  std::atomic<std::uint64_t> bytes_{0};
};

class EchoHost final : public EchoPath {
 public:
  // Starts a host running `file` (in the component folder) subscribed to
  // echo.in and allowed to publish to echo.out; `extra` is more TOML for
  // the [[component]] table (workers, reuse_instances, ...). `stem` names
  // the config file. Returns null, after printing why, when it cannot start.
  static std::unique_ptr<EchoHost> Start(const std::string& stem, const std::string& file,
                                         const std::string& extra = "") {
    auto self = std::unique_ptr<EchoHost>(new EchoHost);
    self->config_ = WriteConfig("ferry-bench-" + stem,
        "[host]\nlog_level = \"error\"\n[brokers]\ndefault = \"mem://\"\n"
        "[[component]]\nname = \"echo\"\npath = \"" + std::string(FERRY_COMPONENT_DIR) + "/" + file +
        "\"\nsubscribe = [\"echo.in\"]\nallow_publish = [\"echo.out\"]\n" + extra);
    auto host = Host::Create({.config_file = self->config_});
    if (!host.ok()) {
      std::fprintf(stderr, "%s: %s\n", stem.c_str(), host.error().ToString().c_str());
      return nullptr;
    }
    self->host_ = std::move(host).value();
    Status started = self->host_->Start();
    if (!started.ok()) {
      std::fprintf(stderr, "%s: %s\n", stem.c_str(), started.error().ToString().c_str());
      self->host_.reset();  // nothing runs after a failed Start
      return nullptr;
    }
    // Counting an arrival is quick, so it runs on the thread that publishes
    // the echo: the driver adds no thread of its own to the measured path.
    auto sink = self->host_->Listen("default", "echo.out",
                                    [s = self.get()](const Message& echo) { s->Arrived(echo); },
                                    ListenMode::kInline);
    if (!sink.ok()) {
      std::fprintf(stderr, "%s: %s\n", stem.c_str(), sink.error().ToString().c_str());
      return nullptr;
    }
    self->sink_ = std::move(sink).value();
    return self;
  }
  ~EchoHost() override {
    sink_.reset();
    if (host_) host_->Stop(std::chrono::milliseconds(1000));
    std::filesystem::remove(config_);
  }
  Status Publish(const Message& m) override { return host_->Publish("default", m); }
  Host& host() { return *host_; }

 private:
  EchoHost() = default;
  std::filesystem::path config_;
  std::unique_ptr<Host> host_;
  std::unique_ptr<Listener> sink_;
};

class NativeEcho final : public EchoPath {
 public:
  NativeEcho() {
    broker_ = std::move(MakeBroker("mem://", {})).value();
    (void)broker_->Connect();
    echo_ = std::move(broker_->Subscribe({.pattern = "echo.in", .manual_ack = false}, [this](Delivery d) {
      Message out = std::move(d.message);
      out.topic = "echo.out";
      (void)broker_->Publish(out, Clock::now() + std::chrono::seconds(30));
    })).value();
    // Counted on the echo's publishing thread, as EchoHost's arrivals are.
    sink_ = std::move(broker_->Subscribe({.pattern = "echo.out",
                                          .manual_ack = false,
                                          .try_handler = [this](Delivery& d) {
                                            Arrived(d.message);
                                            return true;
                                          }},
                                         [this](Delivery d) { Arrived(d.message); })).value();
  }
  ~NativeEcho() override {
    echo_.reset();
    sink_.reset();
    broker_->Close();
  }
  Status Publish(const Message& m) override {
    return broker_->Publish(m, Clock::now() + std::chrono::seconds(30));
  }

 private:
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Subscription> echo_;
  std::unique_ptr<Subscription> sink_;
};

// One echo measured in interleaved rounds: its rate and publisher load in
// each round, in round order.
struct Variant {
  std::string label;
  EchoPath* path = nullptr;
  std::uint64_t count = 0;  // messages per timed run, set by the warm-up
  std::vector<double> rates;
  std::vector<double> busy;
  double rate() const { return Median(rates); }
};

struct RoundPlan {
  std::uint64_t warm = 2000;  // warm-up messages; their rate sizes the timed runs
  double seconds = 1.0;       // about how long one timed run lasts
  std::uint64_t min_count = 100;
  std::uint64_t max_count = 2000000;
  int rounds = 5;
  std::function<void(int round)> each_round;  // runs first in every round
};

// Warms every variant up, then runs `plan.rounds` rounds in which each
// variant runs once, starting with a different one each round so that no
// variant always goes first (or always follows the same neighbour).
inline void RunRounds(std::vector<Variant>& variants, const Message& m, const RoundPlan& plan) {
  for (Variant& v : variants) {
    const PumpResult warm = v.path->Run(m, plan.warm);
    v.count = CountFor(warm.rate, plan.seconds, plan.min_count, plan.max_count);
  }
  const std::size_t n = variants.size();
  for (int r = 0; r < plan.rounds; ++r) {
    if (plan.each_round) plan.each_round(r);
    for (std::size_t i = 0; i < n; ++i) {
      Variant& v = variants[(static_cast<std::size_t>(r) + i) % n];
      const PumpResult res = v.path->Run(m, v.count);
      v.rates.push_back(res.rate);
      v.busy.push_back(res.publisher);
    }
  }
}

// a's rate / b's rate in each round.
inline std::vector<double> RoundRatios(const Variant& a, const Variant& b) {
  std::vector<double> ratios;
  for (std::size_t r = 0; r < a.rates.size() && r < b.rates.size(); ++r)
    ratios.push_back(a.rates[r] / b.rates[r]);
  return ratios;
}
// Their median.
inline double RoundRatio(const Variant& a, const Variant& b) { return Median(RoundRatios(a, b)); }

}  // namespace ferry::bench
