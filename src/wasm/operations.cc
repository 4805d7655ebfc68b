#include "wasm/operations.h"

#include <limits>
#include <string>

#include "core/topic.h"

namespace ferry::wasm {

Result<Broker*> ConnectClient(HostState& state, std::string_view name) {
  return state.services->connect(name);
}

Status CheckMessageLimits(const HostState& state, const Message& message) {
  const auto& s = *state.services;
  if (message.data.size() > s.max_message_bytes)
    return Error::ResourceExhausted("message of " + std::to_string(message.data.size()) +
                                    " bytes is over the limit of " +
                                    std::to_string(s.max_message_bytes));
  if (message.metadata.ByteSize() > s.max_metadata_bytes)
    return Error::ResourceExhausted("metadata of " + std::to_string(message.metadata.ByteSize()) +
                                    " bytes is over the limit of " +
                                    std::to_string(s.max_metadata_bytes));
  return Status::Ok();
}

Status SendMessage(HostState& state, Broker& broker, std::string_view topic, Message message) {
  FERRY_RETURN_IF_ERROR(ValidateTopic(topic));
  FERRY_RETURN_IF_ERROR(CheckMessageLimits(state, message));
  message.topic = std::string(topic);
  message.reply_to.clear();  // a guest cannot forge a reply address
  return broker.Publish(message, Clock::now() + state.services->handler_timeout);
}

Result<std::vector<Message>> RequestMessages(HostState& state, Broker& broker,
                                             std::string_view topic, Message message,
                                             std::optional<std::uint32_t> timeout_ms,
                                             std::optional<std::uint32_t> expected_replies) {
  FERRY_RETURN_IF_ERROR(ValidateTopic(topic));
  FERRY_RETURN_IF_ERROR(CheckMessageLimits(state, message));
  message.topic = std::string(topic);
  message.reply_to.clear();
  RequestOptions options;
  const auto bound = state.services->max_request_wait;
  options.timeout = timeout_ms ? std::min<std::chrono::milliseconds>(
                                     std::chrono::milliseconds(*timeout_ms), bound)
                               : bound;
  if (expected_replies)
    options.expected_replies = std::max<std::uint32_t>(*expected_replies, 1);
  else
    options.expected_replies = timeout_ms ? std::numeric_limits<std::uint32_t>::max() : 1;
  return broker.Request(message, options);
}

Status ReplyTo(HostState& state, const MessageEntry& original, Message reply) {
  if (original.message.reply_to.empty() || original.origin == nullptr)
    return Error::FailedPrecondition("the message has no reply address");
  FERRY_RETURN_IF_ERROR(CheckMessageLimits(state, reply));
  reply.topic = original.message.reply_to;
  reply.reply_to.clear();
  return original.origin->Publish(reply, Clock::now() + state.services->handler_timeout);
}

}  // namespace ferry::wasm
