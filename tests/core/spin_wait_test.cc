// SpinCondition loses no wake-up, whether the waiter is still spinning or
// already asleep when the producer makes its predicate true.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "core/spin_wait.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;

TEST(SpinCondition, AWaiterStillSpinningSeesTheChange) {
  std::mutex mutex;
  SpinCondition cv;
  bool ready = false;
  std::thread producer([&] {
    std::lock_guard lock(mutex);
    ready = true;
    cv.NotifyOne();
  });
  std::unique_lock lock(mutex);
  cv.Wait(lock, [&] { return ready; }, std::chrono::microseconds(1'000'000));
  EXPECT_TRUE(ready);
  lock.unlock();
  producer.join();
}

TEST(SpinCondition, AWaiterAlreadyAsleepIsWoken) {
  std::mutex mutex;
  SpinCondition cv;
  bool ready = false;
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);  // well past the 1 µs spin below
    {
      std::lock_guard lock(mutex);
      ready = true;
    }
    cv.NotifyOne();  // outside the lock, as the embedded broker's acker does
  });
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex);
  cv.Wait(lock, [&] { return ready; }, std::chrono::microseconds(1));
  EXPECT_TRUE(ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  lock.unlock();
  producer.join();
}

TEST(SpinCondition, EveryItemOfAStreamArrivesInOrder) {
  std::mutex mutex;
  SpinCondition cv;
  std::deque<int> queue;
  constexpr int kItems = 200'000;
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) {
      std::lock_guard lock(mutex);
      queue.push_back(i);
      cv.NotifyOne();
      // Now and then a pause, so the consumer also goes to sleep.
      if (i % 20'000 == 0) std::this_thread::sleep_for(2ms);
    }
  });
  int expected = 0;
  std::unique_lock lock(mutex);
  while (expected < kItems) {
    cv.Wait(lock, [&] { return !queue.empty(); });
    while (!queue.empty()) {
      ASSERT_EQ(queue.front(), expected);
      queue.pop_front();
      ++expected;
    }
  }
  lock.unlock();
  producer.join();
  EXPECT_EQ(expected, kItems);
}

}  // namespace
}  // namespace ferry
