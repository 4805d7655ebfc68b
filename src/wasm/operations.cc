#include "wasm/operations.h"

#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "core/cloudevents.h"
#include "core/topic.h"
#include "core/trace_context.h"

namespace ferry::wasm {
namespace {

// When every host-side wait of the current guest call must end: the call's
// deadline less a tenth of handler_timeout (at least 50 ms), so the guest
// can still act on what it got, an error included, before it is cut off.
Deadline WaitDeadline(const HostState& state) {
  const auto margin = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(50), state.services->handler_timeout / 10);
  return state.call_deadline - margin;
}

// What is left of the call for a wait, in whole milliseconds (zero when
// nothing is).
std::chrono::milliseconds TimeLeft(const HostState& state) {
  using std::chrono::milliseconds;
  const auto left = std::chrono::duration_cast<milliseconds>(WaitDeadline(state) - Clock::now());
  return std::max(left, milliseconds(0));
}

Error NoTimeLeft(const HostState& state, std::string_view what) {
  return Error::Timeout(std::string(what) + ": no time left in the guest call (handler_timeout_ms " +
                        std::to_string(state.services->handler_timeout.count()) + ")");
}

// Publishes under the call's deadline. A broker that held the message past
// it (flow control) says ResourceExhausted; to the guest that is a timeout.
Status PublishWithin(const HostState& state, Broker& broker, const Message& message) {
  const Deadline deadline = WaitDeadline(state);
  Status sent = broker.Publish(message, deadline);
  if (!sent.ok() && sent.error().code() == ErrorCode::kResourceExhausted && Clock::now() >= deadline)
    return NoTimeLeft(state, "publish to '" + message.topic + "' (" + sent.error().message() + ")");
  return sent;
}

// A message the component sends as its own CloudEvent, when it has a type.
void StampEvent(const GuestServices& s, Message& message) {
  if (s.cloudevents_type.empty()) return;
  message.metadata.Set("ce-specversion", "1.0");
  message.metadata.Set("ce-id", NewCloudEventId());
  message.metadata.Set("ce-source", s.cloudevents_source);
  message.metadata.Set("ce-type", s.cloudevents_type);
  message.metadata.Set("ce-time", CloudEventTime());
}

// A guest's send: into the broker's window of unconfirmed publishes when
// the handling tracks its sends (the delivery is settled once they are
// confirmed), else waiting for the broker like any publish.
Status SendWithin(const HostState& state, Broker& broker, const Message& message) {
  if (!state.sends) return PublishWithin(state, broker, message);
  const Deadline deadline = WaitDeadline(state);
  Status sent = broker.PublishAsync(message, deadline, state.sends->Track());
  if (sent.ok()) return sent;
  state.sends->Untrack();
  if (sent.error().code() == ErrorCode::kResourceExhausted && Clock::now() >= deadline)
    return NoTimeLeft(state, "publish to '" + message.topic + "' (" + sent.error().message() + ")");
  return sent;
}

}  // namespace

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

Status Allowed(const GuestServices& services, Use use, std::string_view topic) {
  const auto& grants = use == Use::kPublish   ? services.allow_publish
                       : use == Use::kRequest ? services.allow_request
                                              : services.allow_subscribe;
  for (const std::string& g : grants)
    if (PatternCovers(g, topic)) return Status::Ok();
  const char* verb = use == Use::kPublish ? "publish to" : use == Use::kRequest ? "request on" : "subscribe to";
  const char* key = use == Use::kPublish   ? "allow_publish"
                    : use == Use::kRequest ? "allow_request"
                                           : "allow_subscribe";
  return Error::PermissionDenied("component '" + services.component_name + "' may not " + verb +
                                 " '" + std::string(topic) + "' (not in its " + key + ")");
}

Status SendMessage(HostState& state, Broker& broker, std::string_view topic, Message& message) {
  FERRY_RETURN_IF_ERROR(ValidateTopic(topic));
  FERRY_RETURN_IF_ERROR(Allowed(*state.services, Use::kPublish, topic));
  FERRY_RETURN_IF_ERROR(CheckMessageLimits(state, message));
  message.topic = std::string(topic);
  message.reply_to.clear();  // a guest cannot forge a reply address
  if (current_span) Stamp(message, *current_span);
  StampEvent(*state.services, message);
  return SendWithin(state, broker, message);
}

Result<std::vector<Message>> RequestMessages(HostState& state, Broker& broker,
                                             std::string_view topic, Message message,
                                             std::optional<std::uint32_t> timeout_ms,
                                             std::optional<std::uint32_t> expected_replies) {
  FERRY_RETURN_IF_ERROR(ValidateTopic(topic));
  FERRY_RETURN_IF_ERROR(Allowed(*state.services, Use::kRequest, topic));
  FERRY_RETURN_IF_ERROR(CheckMessageLimits(state, message));
  message.topic = std::string(topic);
  message.reply_to.clear();
  if (current_span) Stamp(message, *current_span);
  StampEvent(*state.services, message);
  RequestOptions options;
  options.stop = state.stop;
  // The guest's timeout, the host's bound and the call's time left: the
  // shortest wins. With no time left the request is not sent at all.
  const auto left = TimeLeft(state);
  if (left.count() == 0) return NoTimeLeft(state, "request on '" + std::string(topic) + "'");
  options.timeout = std::min(state.services->max_request_wait, left);
  if (timeout_ms) options.timeout = std::min(options.timeout, std::chrono::milliseconds(*timeout_ms));
  if (expected_replies)
    options.expected_replies = std::max<std::uint32_t>(*expected_replies, 1);
  else
    options.expected_replies = timeout_ms ? std::numeric_limits<std::uint32_t>::max() : 1;
  return broker.Request(message, options);
}

Status ReplyTo(HostState& state, Broker* origin, std::string_view reply_to, Message reply) {
  if (reply_to.empty() || origin == nullptr)
    return Error::FailedPrecondition("the message has no reply address");
  FERRY_RETURN_IF_ERROR(CheckMessageLimits(state, reply));
  reply.topic = std::string(reply_to);
  reply.reply_to.clear();
  if (current_span) Stamp(reply, *current_span);
  StampEvent(*state.services, reply);
  return PublishWithin(state, *origin, reply);
}

// Sends one message of a list, trying again (a few times, briefly, within
// the call's time left) when the broker refused it with a Connection error:
// a link that broke and came back, a publish turned away. Other errors are
// the guest's or final.
Status SendResuming(HostState& state, Broker& broker, std::string_view topic, Message& message) {
  constexpr int kTries = 3;
  constexpr auto kPause = std::chrono::milliseconds(20);
  Status sent = SendMessage(state, broker, topic, message);
  for (int tried = 1; tried < kTries && !sent.ok(); ++tried) {
    if (sent.error().code() != ErrorCode::kConnection) break;
    const auto left = TimeLeft(state);
    if (left <= kPause) break;
    std::this_thread::sleep_for(kPause);
    sent = SendMessage(state, broker, topic, message);
  }
  return sent;
}

Status SendMessages(HostState& state, Broker& broker, std::string_view topic,
                    std::span<Message> messages) {
  if (messages.size() == 1) return SendResuming(state, broker, topic, messages[0]);
  FERRY_RETURN_IF_ERROR(ValidateTopic(topic));
  const std::string of = " of " + std::to_string(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    Status fits = CheckMessageLimits(state, messages[i]);
    if (!fits.ok()) return fits.error().WithContext("message " + std::to_string(i) + of);
  }
  // A refusal partway resumes from the refused message; the ones before it
  // went out and are never sent again by Ferry.
  for (std::size_t i = 0; i < messages.size(); ++i) {
    Status sent = SendResuming(state, broker, topic, messages[i]);
    if (!sent.ok())
      return sent.error().WithContext("message " + std::to_string(i) + of + " (" +
                                      std::to_string(i) + " sent before it)");
  }
  return Status::Ok();
}

}  // namespace ferry::wasm

namespace ferry::wasm {

Result<std::vector<Message>> PullMessages(HostState& state, Broker& broker, std::string_view pattern,
                                          std::chrono::milliseconds wait) {
  FERRY_RETURN_IF_ERROR(ValidatePattern(pattern));
  FERRY_RETURN_IF_ERROR(Allowed(*state.services, Use::kSubscribe, pattern));
  struct Pulled {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<Message> messages;
  };
  auto pulled = std::make_shared<Pulled>();
  SubscribeOptions options;
  options.pattern = std::string(pattern);
  options.manual_ack = false;
  auto sub = broker.Subscribe(options, [pulled](Delivery d) {
    std::lock_guard lock(pulled->mutex);
    pulled->messages.push_back(std::move(d.message));
    pulled->cv.notify_all();
  });
  if (!sub.ok()) return sub.error();
  const Deadline until = std::min(Clock::now() + wait, WaitDeadline(state));
  {
    std::unique_lock lock(pulled->mutex);
    pulled->cv.wait_until(lock, until, [&] { return !pulled->messages.empty(); });
  }
  sub->reset();  // no delivery starts after this
  std::lock_guard lock(pulled->mutex);
  return std::move(pulled->messages);
}

}  // namespace ferry::wasm
