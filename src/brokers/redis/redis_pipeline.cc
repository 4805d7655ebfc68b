#include "brokers/redis/redis_pipeline.h"

#include <algorithm>

namespace ferry::redis {
namespace {

// Most XADDs written before their replies are read.
constexpr std::size_t kMaxBatch = 256;

}  // namespace

Pipeline::Pipeline(Endpoint endpoint, std::string display, std::chrono::milliseconds command_timeout,
                   std::uint32_t max_unconfirmed)
    : endpoint_(std::move(endpoint)),
      display_(std::move(display)),
      timeout_(command_timeout),
      window_(max_unconfirmed),
      thread_([this] { Loop(); }) {}

Pipeline::~Pipeline() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status Pipeline::Submit(std::vector<std::string> command, Deadline deadline, PublishCompletion done) {
  FERRY_RETURN_IF_ERROR(window_.Acquire(deadline, display_ + ": publish to " + command[1]));
  {
    std::lock_guard lock(mutex_);
    if (!stop_) {
      queue_.push_back({std::move(command), std::move(done)});
      cv_.notify_one();
      return Status::Ok();
    }
  }
  window_.Release();
  return Error::Connection(display_ + " is closed");
}

Connection* Pipeline::Link() {
  if (conn_ && !conn_->broken()) return conn_.get();
  conn_.reset();
  if (Clock::now() < next_reconnect_) return nullptr;
  Endpoint quick = endpoint_;
  quick.connect_timeout = std::min<std::chrono::milliseconds>(quick.connect_timeout,
                                                              std::chrono::milliseconds(500));
  auto opened = Connection::Open(quick, display_);
  if (!opened.ok()) {
    next_reconnect_ = Clock::now() + std::chrono::milliseconds(200);
    return nullptr;
  }
  conn_ = std::move(opened).value();
  conn_->SetTimeout(timeout_);
  return conn_.get();
}

void Pipeline::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    std::vector<Item> batch;
    while (!queue_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool stopping = stop_;
    lock.unlock();
    std::vector<Status> outcomes;
    Connection* link = stopping ? nullptr : Link();
    if (!link) {
      const Error down = Error::Connection(
          display_ + (stopping ? " is closed" : " is unreachable; retrying") +
          ": the message was not stored");
      outcomes.assign(batch.size(), Status(down));
    } else {
      std::vector<std::vector<std::string>> commands;
      commands.reserve(batch.size());
      for (Item& item : batch) commands.push_back(std::move(item.command));
      for (auto& reply : link->Pipeline(commands))
        outcomes.push_back(reply.ok() ? Status::Ok() : Status(reply.error()));
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(outcomes[i]));
      window_.Release();  // after the report: the place is held until then
    }
    lock.lock();
  }
}

}  // namespace ferry::redis
