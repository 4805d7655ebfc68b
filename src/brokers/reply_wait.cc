#include "brokers/reply_wait.h"

#include <fmt/format.h>

namespace ferry {

void PendingReplies::Add(Message reply) {
  std::lock_guard lock(mutex_);
  replies_.push_back(std::move(reply));
  cv_.notify_all();
}

std::vector<Message> PendingReplies::Wait(Deadline deadline, const RequestOptions& options) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, options.stop, deadline, [&] { return replies_.size() >= options.expected_replies; });
  return std::move(replies_);
}

Result<std::vector<Message>> RequestResult(std::vector<Message> replies, const Message& request,
                                           const RequestOptions& options) {
  if (replies.empty()) {
    if (options.stop.stop_requested())
      return Error::Cancelled(fmt::format("stopped waiting for a reply on {}: the host is stopping", request.topic));
    return Error::Timeout(fmt::format("no reply on {} within {} ms", request.topic, options.timeout.count()));
  }
  if (replies.size() > options.expected_replies) replies.resize(options.expected_replies);
  return replies;
}

}  // namespace ferry
