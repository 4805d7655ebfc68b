#include "support/restart_proof.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The publishing side of the proof: a thread that keeps publishing numbered
// bodies and remembers which the host accepted.
class Load {
 public:
  explicit Load(const std::function<Status(const std::string&)>& publish) : publish_(publish) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int accepted() const { return accepted_count_.load(); }
  int refused() const { return refused_.load(); }
  std::set<std::string> Accepted() {
    std::lock_guard lock(mutex_);
    return accepted_;
  }

 private:
  void Run() {
    for (int i = 0; !stop_; ++i) {
      const std::string body = "m" + std::to_string(i);
      if (publish_(body).ok()) {
        {
          std::lock_guard lock(mutex_);
          accepted_.insert(body);
        }
        ++accepted_count_;
        std::this_thread::sleep_for(1ms);  // steady load, not a flood
      } else {
        ++refused_;
        std::this_thread::sleep_for(20ms);
      }
    }
  }

  const std::function<Status(const std::string&)>& publish_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_count_{0}, refused_{0};
  std::mutex mutex_;
  std::set<std::string> accepted_;
  std::thread thread_;
};

// Waits until the host accepted `more` publishes past `from`.
bool AcceptsAgain(const Load& load, int from, int more, std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (load.accepted() >= from + more) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

RestartResult ProveRestarts(const RestartProof& proof) {
  RestartResult r;
  const char* env = std::getenv("FERRY_PROOF_RESTARTS");
  const int restarts = env ? std::atoi(env) : proof.restarts;
  Load load(proof.publish);
  if (!AcceptsAgain(load, 0, 20, 30s)) {
    ADD_FAILURE() << proof.label << ": the host accepted nothing before the first restart";
    return r;
  }
  for (int i = 0; i < restarts; ++i) {
    std::this_thread::sleep_for(proof.up);
    if (proof.kill) proof.server->Kill();
    else proof.server->Stop();
    std::this_thread::sleep_for(proof.down);
    const int before = load.accepted();
    Status started = proof.server->Start();
    if (!started.ok()) {
      ADD_FAILURE() << proof.label << ": restart " << i + 1 << ": " << started.error().message()
                    << "\n" << proof.server->LogTail();
      return r;
    }
    if (!AcceptsAgain(load, before, 20, 60s)) {
      ADD_FAILURE() << proof.label << ": the host accepted no publish within 60 s of restart "
                    << i + 1;
      return r;
    }
    ++r.restarts;
  }
  std::this_thread::sleep_for(proof.up);
  load.Stop();
  const std::set<std::string> accepted = load.Accepted();
  r.accepted = static_cast<int>(accepted.size());
  r.refused = load.refused();
  // Everything accepted must come out; under load that can take a while.
  std::map<std::string, int> seen;
  const auto until = Clock::now() + 120s;
  while (true) {
    seen = proof.outputs();
    int found = 0;
    for (const auto& body : accepted) found += seen.count(body) ? 1 : 0;
    r.handled = found;
    if (found == r.accepted || Clock::now() >= until) break;
    std::this_thread::sleep_for(200ms);
  }
  for (const auto& body : accepted)
    if (auto it = seen.find(body); it != seen.end()) r.duplicates += it->second - 1;
  ::testing::Test::RecordProperty("restarts", r.restarts);
  ::testing::Test::RecordProperty("accepted", r.accepted);
  ::testing::Test::RecordProperty("duplicates", r.duplicates);
  std::printf("%s, %d restarts (%s): accepted %d, handled %d, duplicates %d, refused while down %d\n",
              proof.label.c_str(), r.restarts, proof.kill ? "SIGKILL" : "SIGTERM", r.accepted,
              r.handled, r.duplicates, r.refused);
  if (r.handled != r.accepted) {
    std::vector<std::string> missing;
    for (const auto& body : accepted)
      if (!seen.count(body)) missing.push_back(body);
    std::string some;
    for (std::size_t i = 0; i < missing.size() && i < 10; ++i) some += " " + missing[i];
    ADD_FAILURE() << proof.label << ": " << missing.size() << " accepted messages never came out:"
                  << some;
  }
  return r;
}

void ExpectRestartsLoseNothing(const RestartProof& proof) {
  const char* env = std::getenv("FERRY_PROOF_RESTARTS");
  const int restarts = env ? std::atoi(env) : proof.restarts;
  const RestartResult r = ProveRestarts(proof);
  EXPECT_EQ(r.restarts, restarts);
  EXPECT_GT(r.accepted, 0);
  EXPECT_EQ(r.handled, r.accepted);
}

void ExpectEveryAcceptedCameOut(const std::set<std::string>& accepted,
                                const std::function<std::vector<std::string>()>& outputs,
                                std::chrono::seconds limit) {
  std::set<std::string> seen;
  const auto until = Clock::now() + limit;
  while (true) {
    const auto got = outputs();
    seen = std::set<std::string>(got.begin(), got.end());
    if (std::includes(seen.begin(), seen.end(), accepted.begin(), accepted.end()) || Clock::now() >= until)
      break;
    std::this_thread::sleep_for(50ms);
  }
  std::vector<std::string> missing;
  std::set_difference(accepted.begin(), accepted.end(), seen.begin(), seen.end(),
                      std::back_inserter(missing));
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << accepted.size()
                               << " accepted messages never came out, e.g. "
                               << (missing.empty() ? "" : missing.front());
}

bool ProbeUntilEchoed(const std::function<Status(const std::string& body)>& publish,
                      const std::function<std::vector<std::string>()>& outputs,
                      std::chrono::milliseconds gap) {
  for (int i = 0; i < 100; ++i) {
    Status s = publish("probe");
    if (!s.ok()) {
      ADD_FAILURE() << "publishing the probe: " << s.error().message();
      return false;
    }
    std::this_thread::sleep_for(gap);
    for (const auto& t : outputs())
      if (t == "probe") return true;
  }
  return false;
}

}  // namespace ferry::testing
