// Redis Streams publishes that do not wait for their XADD reply
// (Broker::PublishAsync): a connection and thread of their own write every
// XADD queued meanwhile in one go and read the replies in order (hiredis
// pipelining: one round trip for a whole batch). Each reply completes its
// publish; an error reply, or a connection that broke before the reply,
// completes it with an error (it may still have been stored: at least
// once).
//
// Threads: Submit on any thread; completions on this object's thread, in
// submission order. The destructor completes what is left with an error.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "brokers/broker.h"
#include "brokers/publish_window.h"
#include "brokers/redis/redis_wire.h"

namespace ferry::redis {

class Pipeline {
 public:
  Pipeline(Endpoint endpoint, std::string display, std::chrono::milliseconds command_timeout,
           std::uint32_t max_unconfirmed);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Queues `command` (waiting up to `deadline` for room in the window);
  // `done` gets its outcome. An error here: not queued, `done` not called.
  Status Submit(std::vector<std::string> command, Deadline deadline, PublishCompletion done);

  // Publishes taken into the window and not yet confirmed.
  std::uint32_t unconfirmed() const { return window_.used(); }

 private:
  struct Item {
    std::vector<std::string> command;
    PublishCompletion done;
  };
  void Loop();
  // The link, opened again when it broke (at most every 200 ms).
  Connection* Link();

  const Endpoint endpoint_;
  const std::string display_;
  const std::chrono::milliseconds timeout_;
  PublishWindow window_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  // The thread's own.
  std::unique_ptr<Connection> conn_;
  Deadline next_reconnect_{};
  std::thread thread_;
};

}  // namespace ferry::redis
