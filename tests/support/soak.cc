#include "support/soak.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <thread>

#include "ferry/control.h"
#include "support/ferry_process.h"
#include "support/matchers.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What each hostile command does in tests/guests/misbehave, and the reason
// its dead letter must carry.
const std::map<std::string, std::string> kBad = {
    {"fail", "error"},     // the handler returns an error
    {"trap", "trap"},      // unreachable
    {"loop", "timeout"},   // never returns
    {"grow", "memory"},    // allocates past max_memory_bytes
    // Keeps small messages on the host until max_guest_messages stops it.
    // (1 MiB ones reach the byte cap only after copying 64 MiB, which a
    // loaded machine may not finish within the call: that is a timeout.)
    {"hoard 16 5000", "memory"},
};

SoakSample Sample(pid_t pid, double seconds) {
  SoakSample s{.seconds = seconds};
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      double kib = 0;
      status >> kib;
      s.rss_mib = kib / 1024;
    } else if (key == "Threads:") {
      status >> s.threads;
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++s.fds;
  return s;
}

// A control-socket subscriber on its own thread, kept until stopped.
class Watch {
 public:
  Watch(const std::filesystem::path& socket, const std::string& pattern) {
    thread_ = std::jthread([this, socket, pattern](std::stop_token stop) {
      status_ = ControlSubscribe(
          socket, "default", pattern, 0,
          [this](const Message& m) {
            std::lock_guard lock(mutex_);
            got_.push_back(m);
            return true;
          },
          [this] { ready_ = true; }, stop);
    });
  }
  ~Watch() { (void)Stop(); }  // a test that wants the outcome calls Stop() itself
  bool WaitReady() {
    for (int i = 0; i < 1000 && !ready_; ++i) std::this_thread::sleep_for(10ms);
    return ready_;
  }
  std::vector<Message> Got() {
    std::lock_guard lock(mutex_);
    return got_;
  }
  // Stops and returns how the subscription ended (Cancelled when stopped).
  Status Stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    return status_;
  }

 private:
  std::atomic<bool> ready_{false};
  std::mutex mutex_;
  std::vector<Message> got_;
  Status status_ = Status::Ok();
  std::jthread thread_;
};

Message Msg(const std::string& topic, const std::string& body) {
  Message m;
  m.topic = topic;
  m.data = Bytes::FromString(body);
  return m;
}

}  // namespace

void ExpectSoakStaysFlat(const SoakRun& run) {
  const char* env = std::getenv("FERRY_SOAK_SECONDS");
  const auto duration = env ? std::chrono::seconds(std::atoi(env)) : run.duration;
  FerryProcess ferry(
      "[limits]\nhandler_timeout_ms = 300\nmax_memory_bytes = 16777216\n"
      "[brokers]\n" + run.brokers_toml + "\n"
      "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
      "subscribe = [\"soak.in\"]\nmax_attempts = 2\nretry_delay_ms = 10\n"
      "dead_letter = \"soak.dead\"\nworkers = 2\n"
      "[[component]]\nname = \"greeter\"\npath = \"$COMPONENTS/greeter.wasm\"\n"
      "subscribe = [\"soak.greet\"]\n");
  ASSERT_OK(ferry.Start());
  const auto socket = ferry.control_socket();
  Watch answers(socket, "misbehave.out");
  Watch dead(socket, "soak.dead");
  ASSERT_TRUE(answers.WaitReady() && dead.WaitReady()) << ferry.Log();

  std::vector<SoakSample> samples;
  std::set<std::string> good_sent;
  std::map<std::string, int> bad_sent;
  int requests = 0, request_failures = 0;
  std::string request_error;
  const auto start = Clock::now();
  auto next_sample = start + 10s;
  const auto gap = std::chrono::microseconds(1000000 / std::max(run.rate, 1));
  auto next_send = start;
  for (int i = 0; Clock::now() - start < duration; ++i) {
    std::this_thread::sleep_until(next_send);
    next_send += gap;
    if (i % 10 == 9) {
      auto it = std::next(kBad.begin(), (i / 10) % kBad.size());
      ++bad_sent[it->first];
      ASSERT_OK(ControlPublish(socket, "default", Msg("soak.in", it->first)));
    } else {
      const std::string body = "good " + std::to_string(i);
      good_sent.insert("ok: " + body);
      ASSERT_OK(ControlPublish(socket, "default", Msg("soak.in", body)));
    }
    if (i % 5 == 0) {
      ++requests;
      const std::string who = "r" + std::to_string(i);
      auto replies = ControlRequest(socket, "default", Msg("soak.greet", who), 5s, 1);
      if (!replies.ok() || replies->empty() || replies->front().data.view() != "hello, " + who) {
        ++request_failures;
        if (!replies.ok()) request_error = replies.error().message();
      }
    }
    if (Clock::now() >= next_sample) {
      samples.push_back(Sample(ferry.pid(), std::chrono::duration<double>(Clock::now() - start).count()));
      next_sample += 10s;
    }
  }
  samples.push_back(Sample(ferry.pid(), std::chrono::duration<double>(Clock::now() - start).count()));

  // Everything sent comes out: good answers, bad ones as dead letters.
  int bad_total = 0;
  for (const auto& [command, n] : bad_sent) bad_total += n;
  std::set<std::string> good_seen;
  std::map<std::string, std::map<std::string, int>> reasons;  // command -> reason -> count
  const auto until = Clock::now() + 120s;
  while (true) {
    good_seen.clear();
    for (const Message& m : answers.Got()) good_seen.insert(std::string(m.data.view()));
    const auto letters = dead.Got();
    const bool done = letters.size() >= static_cast<std::size_t>(bad_total) &&
                      std::includes(good_seen.begin(), good_seen.end(), good_sent.begin(), good_sent.end());
    if (done || Clock::now() >= until) {
      for (const Message& m : letters)
        ++reasons[std::string(m.data.view())]
                 [std::string(m.metadata.Get("ferry-dead-letter-reason").value_or("none"))];
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  // Both subscribers were served all along: stopping them is what ends them.
  for (Watch* w : {&answers, &dead}) {
    const Status ended = w->Stop();
    EXPECT_TRUE(!ended.ok() && ended.error().code() == ErrorCode::kCancelled)
        << (ended.ok() ? "ended by itself" : ended.error().message());
  }

  std::printf("soak on %s, %.0f s at %d msg/s: %zu good, %d bad, %d requests (%d failed)\n",
              run.label.c_str(), std::chrono::duration<double>(duration).count(), run.rate,
              good_sent.size(), bad_total, requests, request_failures);
  std::printf("| s | VmRSS (MiB) | open fds | threads |\n|---|---|---|---|\n");
  for (const auto& s : samples)
    std::printf("| %.0f | %.1f | %d | %d |\n", s.seconds, s.rss_mib, s.fds, s.threads);

  std::vector<std::string> missing;
  for (const auto& body : good_sent)
    if (!good_seen.count(body)) missing.push_back(body);
  EXPECT_TRUE(missing.empty()) << missing.size() << " good messages were never answered, e.g. "
                               << (missing.empty() ? "" : missing.front());
  for (const auto& [command, n] : bad_sent) {
    const std::string reason = kBad.at(command);
    std::string got;
    for (const auto& [r, count] : reasons[command]) got += " " + r + "=" + std::to_string(count);
    EXPECT_EQ(reasons[command][reason], n) << command << " should be dead-lettered as " << reason
                                           << "; got" << got;
  }
  EXPECT_EQ(request_failures, 0) << request_error;
  // Flat: after the first sample (everything warmed up), memory grows by
  // less than the size of one hoard's worth of slack and descriptors and
  // threads stay put, give or take the control connections of the moment.
  ASSERT_GE(samples.size(), 2u);
  const SoakSample& first = samples.front();
  for (const auto& s : samples) {
    EXPECT_LT(s.rss_mib, first.rss_mib + 24) << "at " << s.seconds << " s";
    EXPECT_LE(s.fds, first.fds + 4) << "at " << s.seconds << " s";
    EXPECT_LE(s.threads, first.threads + 4) << "at " << s.seconds << " s";
  }
  EXPECT_EQ(ferry.Stop(), 0) << ferry.Log();
}

}  // namespace ferry::testing
