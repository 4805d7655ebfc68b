// Runs callbacks after a delay, in order of when they are due, on one thread
// of its own. Used for redeliveries an adapter or the runtime makes itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace ferry {

class Timer {
 public:
  Timer();
  // Stops the thread; callbacks not yet due never run.
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void After(std::chrono::milliseconds delay, std::function<void()> fn);
  // Removes every callback not yet run and returns them (to run or drop).
  std::vector<std::function<void()>> TakePending();

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Job {
    TimePoint at;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Job& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void Run();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::priority_queue<Job, std::vector<Job>, std::greater<>> jobs_;
  std::uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

}  // namespace ferry
