// Answers requests on a topic of a RunningHost's default broker with
// "answer:<request data>": at once, or held until Open (or until enough of
// them wait), so a test can see how many requests a guest has out at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "support/host_fixture.h"

namespace ferry::testing {

class Responder {
 public:
  Responder(RunningHost& host, const std::string& topic);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // Holds requests from now on until `n` wait (0: until Open).
  void Hold(std::size_t n = 0);
  // Requests whose data is `data` get no answer.
  void Silence(const std::string& data);
  // Answers the held requests, and every later one at once.
  void Open();
  // Waits (generously) until `n` requests are held.
  bool WaitHeld(std::size_t n);
  // Requests seen so far, answered or not.
  std::size_t seen();
  // The last request's traceparent (empty: it had none).
  std::string traceparent();

 private:
  // The broker's delivery thread.
  void Take(const Message& m);
  void Answer(const Message& request);

  RunningHost& host_;
  std::unique_ptr<Listener> listener_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Message> pending_;
  bool held_ = false;
  std::size_t open_at_ = 0;
  std::size_t seen_ = 0;
  std::string traceparent_;
  std::string silent_ = "\x01never";
};

}  // namespace ferry::testing
