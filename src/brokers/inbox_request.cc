#include "brokers/inbox_request.h"

#include <condition_variable>
#include <mutex>

#include <fmt/format.h>

namespace ferry {
namespace {

std::string NewInbox() { return "_INBOX." + RandomToken(); }

}  // namespace

Result<std::vector<Message>> RequestViaInbox(Broker& broker, const Message& message,
                                             const RequestOptions& options) {
  struct Collector {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<Message> replies;
  };
  auto collector = std::make_shared<Collector>();
  const std::string inbox = NewInbox();
  SubscribeOptions sub_options;
  sub_options.pattern = inbox;
  sub_options.manual_ack = false;
  auto sub = broker.Subscribe(sub_options, [collector](Delivery d) {
    std::lock_guard lock(collector->mutex);
    collector->replies.push_back(std::move(d.message));
    collector->cv.notify_all();
  });
  if (!sub.ok()) return sub.error();

  const Deadline deadline = Clock::now() + options.timeout;
  Message request = message;
  request.reply_to = inbox;
  FERRY_RETURN_IF_ERROR(broker.Publish(request, deadline));

  std::unique_lock lock(collector->mutex);
  collector->cv.wait_until(lock, deadline, [&] {
    return collector->replies.size() >= options.expected_replies;
  });
  if (collector->replies.empty())
    return Error::Timeout(fmt::format("no reply on {} within {} ms", message.topic,
                                      options.timeout.count()));
  std::vector<Message> out = std::move(collector->replies);
  if (out.size() > options.expected_replies) out.resize(options.expected_replies);
  collector->replies.clear();
  return out;
}

}  // namespace ferry
