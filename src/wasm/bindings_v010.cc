// wasi:messaging@0.1.0 and its 2024 twin (the same interfaces published as
// 0.2.0-draft): messaging-types, producer and consumer. Messages are value
// records; errors are an `error` resource whose static trace() returns the
// text of the last error the instance saw.
#include <limits>

#include "core/topic.h"
#include "wasm/bindings.h"
#include "wasm/operations.h"
#include "wasm/v010_records.h"

namespace ferry::wasm {
namespace {

using Cx = wasmtime::Store::Context;
using Args = wasmtime::Span<wc::Val>;

// result<T, error>: the error becomes a resource the guest owns, and the
// text trace() returns from now on.
Status ErrorResult(HostState& state, Cx cx, const Error& error, wc::Val& out) {
  state.last_error = error.ToString();
  auto handle = OwnedResource(cx, state.errors.Insert(state.last_error), kErrorType);
  if (!handle.ok()) return handle.error();
  out = wc::Val(wc::WitResult::err(std::move(handle).value()));
  return Status::Ok();
}

wc::Val Ok(std::optional<wc::Val> v = std::nullopt) { return wc::Val(wc::WitResult::ok(std::move(v))); }

// Takes the client a guest passed by value (the 0.1.0 functions consume it).
Result<ClientEntry> TakeClient(HostState& state, Cx cx, const wc::Val& val) {
  auto rep = ResourceRep(cx, val, kClientType);
  if (!rep.ok()) return rep.error();
  auto entry = state.clients.Take(*rep);
  if (!entry) return Error::Internal("unknown client handle");
  return std::move(*entry);
}

Limits MessageLimits(const HostState& state) {
  return {state.services->max_message_bytes, state.services->max_metadata_bytes};
}

// The list<message> of records for `messages`; each is remembered as pulled
// so complete-message accepts it.
wc::Val PulledList(HostState& state, std::vector<Message>& messages) {
  std::vector<wc::Val> records;
  records.reserve(messages.size());
  for (const Message& m : messages) {
    CallDelivery d{NewDeliveryTag(), Verdict::kNone, /*pulled=*/true};
    records.push_back(MessageToRecord(m, d.tag));
    state.call.push_back(std::move(d));
  }
  return wc::Val(wc::List(std::move(records)));
}

Status ClientConnect(HostState& state, Cx cx, Args args, Args results) {
  const std::string name(args[0].get_string());
  auto broker = ConnectClient(state, name);
  if (!broker.ok()) return ErrorResult(state, cx, broker.error(), results[0]);
  auto handle = OwnedResource(cx, state.clients.Insert({name, *broker, true}), kClientType);
  if (!handle.ok()) return handle.error();
  results[0] = Ok(std::move(handle).value());
  return Status::Ok();
}

Status ErrorTrace(HostState& state, Cx, Args, Args results) {
  results[0] = wc::Val::string(state.last_error);
  return Status::Ok();
}

Status Send(HostState& state, Cx cx, Args args, Args results) {
  auto client = TakeClient(state, cx, args[0]);
  if (!client.ok()) return client.error();
  const std::string_view channel = args[1].get_string();
  if (Status valid = ValidateTopic(channel); !valid.ok())
    return ErrorResult(state, cx, valid.error(), results[0]);
  const wc::List& list = args[2].get_list();
  // Every message is checked before the first is sent, so a bad one in the
  // middle leaves nothing half-sent; a broker failure names the message and
  // how many went out before it.
  std::vector<Message> messages;
  messages.reserve(list.size());
  std::size_t index = 0;
  for (const wc::Val& record : list) {
    auto m = RecordToMessage(record, MessageLimits(state));
    if (!m.ok())
      return ErrorResult(state, cx,
                         m.error().WithContext("message " + std::to_string(index) + " of " +
                                               std::to_string(list.size())),
                         results[0]);
    messages.push_back(std::move(m).value());
    ++index;
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    Status sent = SendMessage(state, *client->broker, channel, std::move(messages[i]));
    if (!sent.ok())
      return ErrorResult(state, cx,
                         sent.error().WithContext("message " + std::to_string(i) + " of " +
                                                  std::to_string(messages.size()) + " (" +
                                                  std::to_string(i) + " sent before it)"),
                         results[0]);
  }
  results[0] = Ok();
  return Status::Ok();
}

Status Pull(HostState& state, Cx cx, const wc::Val& client_val, std::string_view channel,
            std::chrono::milliseconds wait, bool optional_result, wc::Val& out) {
  auto client = TakeClient(state, cx, client_val);
  if (!client.ok()) return client.error();
  auto messages = PullMessages(state, *client->broker, channel, wait);
  if (!messages.ok()) return ErrorResult(state, cx, messages.error(), out);
  if (optional_result) {
    out = Ok(wc::Val(wc::WitOption(messages->empty() ? std::nullopt
                                                      : std::optional(PulledList(state, *messages)))));
    return Status::Ok();
  }
  if (messages->empty())
    return ErrorResult(state, cx,
                       Error::Timeout("no message arrived on " + std::string(channel) +
                                      " before the handler call's deadline"),
                       out);
  out = Ok(PulledList(state, *messages));
  return Status::Ok();
}

Status SubscribeTryReceive(HostState& state, Cx cx, Args args, Args results) {
  return Pull(state, cx, args[0], args[1].get_string(), std::chrono::milliseconds(args[2].get_u32()),
              /*optional_result=*/true, results[0]);
}

Status SubscribeReceive(HostState& state, Cx cx, Args args, Args results) {
  // Bounded by the call's deadline, which PullMessages applies.
  return Pull(state, cx, args[0], args[1].get_string(), std::chrono::hours(24),
              /*optional_result=*/false, results[0]);
}

Status UpdateGuestConfiguration(HostState& state, Cx cx, Args args, Args results) {
  auto gc = RecordToConfiguration(args[0]);
  if (!gc.ok()) return gc.error();
  if (!state.services->reconfigure)
    return ErrorResult(state, cx, Error::Unsupported("this host cannot change subscriptions"),
                       results[0]);
  Status changed = state.services->reconfigure(*gc);
  if (!changed.ok()) return ErrorResult(state, cx, changed.error(), results[0]);
  results[0] = Ok();
  return Status::Ok();
}

// complete-message / abandon-message: the record is found again by its tag.
Status SettleMessage(HostState& state, Cx cx, const wc::Val& record, Verdict verdict, wc::Val& out) {
  const char* verb = verdict == Verdict::kComplete ? "complete" : "abandon";
  const auto tag = RecordMetadataValue(record, kDeliveryKey);
  if (!tag)
    return ErrorResult(state, cx,
                       Error::NotFound(std::string("cannot ") + verb +
                                       " a message without a ferry-delivery tag: it was not "
                                       "delivered to this component"),
                       out);
  auto it = std::find_if(state.call.begin(), state.call.end(),
                         [&](const CallDelivery& d) { return d.tag == *tag; });
  if (it == state.call.end())
    return ErrorResult(state, cx,
                       Error::NotFound(std::string("cannot ") + verb + " message " + *tag +
                                       ": it was not delivered to this handler call"),
                       out);
  if (it->verdict != Verdict::kNone)
    return ErrorResult(state, cx,
                       Error::FailedPrecondition(
                           "message " + *tag + " was already " +
                           (it->verdict == Verdict::kComplete ? "completed" : "abandoned")),
                       out);
  if (it->pulled && verdict == Verdict::kAbandon)
    return ErrorResult(state, cx,
                       Error::Unsupported("message " + *tag +
                                          " came from subscribe-receive, which consumes what it "
                                          "returns; it cannot be abandoned"),
                       out);
  it->verdict = verdict;
  out = Ok();
  return Status::Ok();
}

Status CompleteMessage(HostState& state, Cx cx, Args args, Args results) {
  return SettleMessage(state, cx, args[0], Verdict::kComplete, results[0]);
}

Status AbandonMessage(HostState& state, Cx cx, Args args, Args results) {
  return SettleMessage(state, cx, args[0], Verdict::kAbandon, results[0]);
}

void DropClient(HostState& state, std::uint32_t rep) { state.clients.Take(rep); }
void DropError(HostState& state, std::uint32_t rep) { state.errors.Take(rep); }

Result<wc::LinkerInstance> AddInstance(wc::Linker& linker, std::string_view name,
                                       std::string_view version) {
  const std::string full = "wasi:messaging/" + std::string(name) + "@" + std::string(version);
  auto root = linker.root();
  auto added = root.add_instance(full);
  if (!added) return FromWasmtime(added.err(), "linking " + full);
  return std::move(added).unwrap();
}

}  // namespace

Status AddV010(wc::Linker& linker, std::string_view version) {
  {
    auto types = AddInstance(linker, "messaging-types", version);
    if (!types.ok()) return types.error();
    FERRY_RETURN_IF_ERROR(DefineResource(*types, "client", kClientType, DropClient));
    FERRY_RETURN_IF_ERROR(DefineResource(*types, "error", kErrorType, DropError));
    FERRY_RETURN_IF_ERROR(Define(*types, "[static]client.connect", ClientConnect));
    FERRY_RETURN_IF_ERROR(Define(*types, "[static]error.trace", ErrorTrace));
  }
  {
    auto producer = AddInstance(linker, "producer", version);
    if (!producer.ok()) return producer.error();
    FERRY_RETURN_IF_ERROR(Define(*producer, "send", Send));
  }
  {
    auto consumer = AddInstance(linker, "consumer", version);
    if (!consumer.ok()) return consumer.error();
    FERRY_RETURN_IF_ERROR(Define(*consumer, "subscribe-try-receive", SubscribeTryReceive));
    FERRY_RETURN_IF_ERROR(Define(*consumer, "subscribe-receive", SubscribeReceive));
    FERRY_RETURN_IF_ERROR(Define(*consumer, "update-guest-configuration", UpdateGuestConfiguration));
    FERRY_RETURN_IF_ERROR(Define(*consumer, "complete-message", CompleteMessage));
    FERRY_RETURN_IF_ERROR(Define(*consumer, "abandon-message", AbandonMessage));
  }
  return Status::Ok();
}

}  // namespace ferry::wasm
