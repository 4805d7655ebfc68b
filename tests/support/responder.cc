#include "support/responder.h"

#include <utility>

#include "support/matchers.h"

namespace ferry::testing {

using namespace std::chrono_literals;

Responder::Responder(RunningHost& host, const std::string& topic) : host_(host) {
  auto listener = host.host().Listen("default", topic, [this](const Message& m) { Take(m); });
  EXPECT_OK(listener);
  if (listener.ok()) listener_ = std::move(listener).value();
}

Responder::~Responder() {
  Open();
  listener_.reset();
}

void Responder::Hold(std::size_t n) {
  std::lock_guard lock(mutex_);
  held_ = true;
  open_at_ = n;
}

void Responder::Silence(const std::string& data) {
  std::lock_guard lock(mutex_);
  silent_ = data;
}

void Responder::Open() {
  std::deque<Message> waiting;
  {
    std::lock_guard lock(mutex_);
    held_ = false;
    waiting.swap(pending_);
  }
  for (const Message& m : waiting) Answer(m);
}

bool Responder::WaitHeld(std::size_t n) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, 20s, [&] { return pending_.size() >= n; });
}

std::size_t Responder::seen() {
  std::lock_guard lock(mutex_);
  return seen_;
}

std::string Responder::traceparent() {
  std::lock_guard lock(mutex_);
  return traceparent_;
}

void Responder::Take(const Message& m) {
  std::deque<Message> release;
  {
    std::lock_guard lock(mutex_);
    ++seen_;
    traceparent_ = std::string(m.metadata.Get("traceparent").value_or(""));
    if (Text(m) == silent_) return;
    if (!held_) {
      release.push_back(m);
    } else {
      pending_.push_back(m);
      cv_.notify_all();
      if (open_at_ > 0 && pending_.size() >= open_at_) {
        held_ = false;
        release.swap(pending_);
      }
    }
  }
  for (const Message& r : release) Answer(r);
}

void Responder::Answer(const Message& request) {
  if (request.reply_to.empty()) return;
  Message reply;
  reply.topic = request.reply_to;
  reply.data = Bytes::FromString("answer:" + Text(request));
  (void)host_.host().Publish("default", reply);
}

}  // namespace ferry::testing
