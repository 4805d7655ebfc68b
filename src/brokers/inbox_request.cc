#include "brokers/inbox_request.h"

#include "brokers/reply_wait.h"

namespace ferry {
namespace {

std::string NewInbox() { return "_INBOX." + RandomToken(); }

}  // namespace

Result<std::vector<Message>> RequestViaInbox(Broker& broker, const Message& message,
                                             const RequestOptions& options) {
  auto collector = std::make_shared<PendingReplies>();
  const std::string inbox = NewInbox();
  SubscribeOptions sub_options;
  sub_options.pattern = inbox;
  sub_options.manual_ack = false;
  auto sub = broker.Subscribe(sub_options, [collector](Delivery d) { collector->Add(std::move(d.message)); });
  if (!sub.ok()) return sub.error();

  const Deadline deadline = Clock::now() + options.timeout;
  Message request = message;
  request.reply_to = inbox;
  FERRY_RETURN_IF_ERROR(broker.Publish(request, deadline));

  return RequestResult(collector->Wait(deadline, options), message, options);
}

}  // namespace ferry
