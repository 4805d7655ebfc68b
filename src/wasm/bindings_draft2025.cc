// wasi:messaging@0.2.0-draft as of July 2025: the `types`, `producer` and
// `request-reply` interfaces a component imports.
#include <limits>

#include "wasm/bindings.h"
#include "wasm/operations.h"

namespace ferry::wasm {
namespace {

constexpr std::string_view kTypes = "wasi:messaging/types@0.2.0-draft";
constexpr std::string_view kProducer = "wasi:messaging/producer@0.2.0-draft";
constexpr std::string_view kRequestReply = "wasi:messaging/request-reply@0.2.0-draft";

using Cx = wasmtime::Store::Context;
using Args = wasmtime::Span<wc::Val>;

// The interface's `error` variant for a Ferry error.
wc::Val ErrorVal(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kTimeout:
      return wc::Val(wc::Variant("timeout", std::nullopt));
    case ErrorCode::kConnection:
      return wc::Val(wc::Variant("connection", wc::Val::string(e.message())));
    case ErrorCode::kPermissionDenied:
      return wc::Val(wc::Variant("permission-denied", wc::Val::string(e.message())));
    default:
      return wc::Val(wc::Variant("other", wc::Val::string(e.ToString())));
  }
}

wc::Val Ok(std::optional<wc::Val> v = std::nullopt) { return wc::Val(wc::WitResult::ok(std::move(v))); }
wc::Val Err(const Error& e) { return wc::Val(wc::WitResult::err(ErrorVal(e))); }
wc::Val FromStatus(const Status& s) { return s.ok() ? Ok() : Err(s.error()); }

// The message entry a borrowed `self` refers to, or a trap (an unknown handle
// cannot come from a well-behaved guest; wasmtime checks ownership).
Result<MessageEntry*> MessageArg(HostState& state, Cx cx, const wc::Val& val) {
  auto rep = ResourceRep(cx, val, kMessageType);
  if (!rep.ok()) return rep.error();
  MessageEntry* entry = state.messages.Get(*rep);
  if (!entry) return Error::Internal("unknown message handle");
  return entry;
}

Result<ClientEntry*> ClientArg(HostState& state, Cx cx, const wc::Val& val) {
  auto rep = ResourceRep(cx, val, kClientType);
  if (!rep.ok()) return rep.error();
  ClientEntry* entry = state.clients.Get(*rep);
  if (!entry) return Error::Internal("unknown client handle");
  return entry;
}

// Takes ownership of a message the guest passed by value.
Result<MessageEntry> TakeMessage(HostState& state, Cx cx, const wc::Val& val) {
  auto rep = ResourceRep(cx, val, kMessageType);
  if (!rep.ok()) return rep.error();
  auto entry = state.messages.Take(*rep);
  if (!entry) return Error::Internal("unknown message handle");
  return std::move(*entry);
}

Result<Broker*> ConnectedBroker(const ClientEntry& client) {
  if (!client.connected)
    return Error::Connection("client '" + client.name + "' is disconnected");
  return client.broker;
}

Status ClientConnect(HostState& state, Cx cx, Args args, Args results) {
  const std::string name(args[0].get_string());
  auto broker = ConnectClient(state, name);
  if (!broker.ok()) {
    results[0] = Err(broker.error());
    return Status::Ok();
  }
  const std::uint32_t rep = state.clients.Insert({name, *broker, true});
  auto handle = OwnedResource(cx, rep, kClientType);
  if (!handle.ok()) return handle.error();
  results[0] = Ok(std::move(handle).value());
  return Status::Ok();
}

Status ClientDisconnect(HostState& state, Cx cx, Args args, Args results) {
  auto client = ClientArg(state, cx, args[0]);
  if (!client.ok()) return client.error();
  // The broker connection is shared by every instance of the host; a guest
  // disconnecting ends only its own use of it.
  (*client)->connected = false;
  results[0] = Ok();
  return Status::Ok();
}

Status MessageNew(HostState& state, Cx cx, Args args, Args results) {
  auto data = ValToBytes(args[0], std::numeric_limits<std::uint64_t>::max());
  if (!data.ok()) return data.error();
  MessageEntry entry;
  entry.message.data = std::move(data).value();
  auto handle = OwnedResource(cx, state.messages.Insert(std::move(entry)), kMessageType);
  if (!handle.ok()) return handle.error();
  results[0] = std::move(handle).value();
  return Status::Ok();
}

Status MessageTopic(HostState& state, Cx cx, Args args, Args results) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  const std::string& topic = (*m)->message.topic;
  results[0] = OptionalString(topic.empty() ? std::nullopt : std::optional(topic));
  return Status::Ok();
}

Status MessageContentType(HostState& state, Cx cx, Args args, Args results) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  results[0] = OptionalString((*m)->message.content_type);
  return Status::Ok();
}

Status MessageSetContentType(HostState& state, Cx cx, Args args, Args) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  (*m)->message.content_type = std::string(args[1].get_string());
  return Status::Ok();
}

Status MessageData(HostState& state, Cx cx, Args args, Args results) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  results[0] = BytesToVal((*m)->message.data.span());
  return Status::Ok();
}

Status MessageSetData(HostState& state, Cx cx, Args args, Args) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  auto data = ValToBytes(args[1], std::numeric_limits<std::uint64_t>::max());
  if (!data.ok()) return data.error();
  (*m)->message.data = std::move(data).value();
  return Status::Ok();
}

Status MessageMetadata(HostState& state, Cx cx, Args args, Args results) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  const Metadata& md = (*m)->message.metadata;
  results[0] = md.empty() ? wc::Val(wc::WitOption(std::nullopt))
                          : wc::Val(wc::WitOption(MetadataToVal(md)));
  return Status::Ok();
}

Status MessageAddMetadata(HostState& state, Cx cx, Args args, Args) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  (*m)->message.metadata.Set(std::string(args[1].get_string()), std::string(args[2].get_string()));
  return Status::Ok();
}

Status MessageSetMetadata(HostState& state, Cx cx, Args args, Args) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  auto md = ValToMetadata(args[1], std::numeric_limits<std::uint64_t>::max());
  if (!md.ok()) return md.error();
  (*m)->message.metadata = std::move(md).value();
  return Status::Ok();
}

Status MessageRemoveMetadata(HostState& state, Cx cx, Args args, Args) {
  auto m = MessageArg(state, cx, args[0]);
  if (!m.ok()) return m.error();
  (*m)->message.metadata.Remove(args[1].get_string());
  return Status::Ok();
}

Status Send(HostState& state, Cx cx, Args args, Args results) {
  auto client = ClientArg(state, cx, args[0]);
  if (!client.ok()) return client.error();
  auto message = TakeMessage(state, cx, args[2]);
  if (!message.ok()) return message.error();
  auto broker = ConnectedBroker(**client);
  if (!broker.ok()) {
    results[0] = Err(broker.error());
    return Status::Ok();
  }
  results[0] = FromStatus(
      SendMessage(state, **broker, args[1].get_string(), std::move(message->message)));
  return Status::Ok();
}

Status RequestOptionsNew(HostState& state, Cx cx, Args, Args results) {
  auto handle = OwnedResource(cx, state.request_options.Insert({}), kRequestOptionsType);
  if (!handle.ok()) return handle.error();
  results[0] = std::move(handle).value();
  return Status::Ok();
}

Result<RequestOptionsEntry*> OptionsArg(HostState& state, Cx cx, const wc::Val& val) {
  auto rep = ResourceRep(cx, val, kRequestOptionsType);
  if (!rep.ok()) return rep.error();
  RequestOptionsEntry* entry = state.request_options.Get(*rep);
  if (!entry) return Error::Internal("unknown request-options handle");
  return entry;
}

Status SetTimeout(HostState& state, Cx cx, Args args, Args) {
  auto o = OptionsArg(state, cx, args[0]);
  if (!o.ok()) return o.error();
  (*o)->timeout_ms = args[1].get_u32();
  return Status::Ok();
}

Status SetExpectedReplies(HostState& state, Cx cx, Args args, Args) {
  auto o = OptionsArg(state, cx, args[0]);
  if (!o.ok()) return o.error();
  (*o)->expected_replies = args[1].get_u32();
  return Status::Ok();
}

Status Request(HostState& state, Cx cx, Args args, Args results) {
  auto client = ClientArg(state, cx, args[0]);
  if (!client.ok()) return client.error();
  auto message = MessageArg(state, cx, args[2]);
  if (!message.ok()) return message.error();
  RequestOptionsEntry options;
  if (const wc::Val* opt = args[3].get_option().value()) {
    // The options are passed by value: the host owns them from here on.
    auto rep = ResourceRep(cx, *opt, kRequestOptionsType);
    if (!rep.ok()) return rep.error();
    auto taken = state.request_options.Take(*rep);
    if (!taken) return Error::Internal("unknown request-options handle");
    options = *taken;
  }
  auto broker = ConnectedBroker(**client);
  if (!broker.ok()) {
    results[0] = Err(broker.error());
    return Status::Ok();
  }
  auto replies = RequestMessages(state, **broker, args[1].get_string(), (*message)->message,
                                 options.timeout_ms, options.expected_replies);
  if (!replies.ok()) {
    results[0] = Err(replies.error());
    return Status::Ok();
  }
  std::vector<wc::Val> handles;
  handles.reserve(replies->size());
  for (Message& reply : *replies) {
    const std::uint32_t rep = state.messages.Insert({std::move(reply), *broker});
    auto handle = OwnedResource(cx, rep, kMessageType);
    if (!handle.ok()) return handle.error();
    handles.push_back(std::move(handle).value());
  }
  results[0] = Ok(wc::Val(wc::List(std::move(handles))));
  return Status::Ok();
}

Status Reply(HostState& state, Cx cx, Args args, Args results) {
  auto original = MessageArg(state, cx, args[0]);
  if (!original.ok()) return original.error();
  auto reply = TakeMessage(state, cx, args[1]);
  if (!reply.ok()) return reply.error();
  results[0] = FromStatus(ReplyTo(state, **original, std::move(reply->message)));
  return Status::Ok();
}

void DropClient(HostState& state, std::uint32_t rep) { state.clients.Take(rep); }
void DropMessage(HostState& state, std::uint32_t rep) { state.messages.Take(rep); }
void DropOptions(HostState& state, std::uint32_t rep) { state.request_options.Take(rep); }

struct Entry {
  std::string_view name;
  HostFn fn;
};

Status DefineAll(wc::LinkerInstance& instance, std::initializer_list<Entry> entries) {
  for (const Entry& e : entries) FERRY_RETURN_IF_ERROR(Define(instance, e.name, e.fn));
  return Status::Ok();
}

}  // namespace

Status AddDraft2025(wc::Linker& linker) {
  auto root = linker.root();
  {
    auto added = root.add_instance(kTypes);
    if (!added) return FromWasmtime(added.err(), "linking types");
    wc::LinkerInstance types = std::move(added).unwrap();
    FERRY_RETURN_IF_ERROR(DefineResource(types, "client", kClientType, DropClient));
    FERRY_RETURN_IF_ERROR(DefineResource(types, "message", kMessageType, DropMessage));
    FERRY_RETURN_IF_ERROR(DefineAll(types, {
        {"[static]client.connect", ClientConnect},
        {"[method]client.disconnect", ClientDisconnect},
        {"[constructor]message", MessageNew},
        {"[method]message.topic", MessageTopic},
        {"[method]message.content-type", MessageContentType},
        {"[method]message.set-content-type", MessageSetContentType},
        {"[method]message.data", MessageData},
        {"[method]message.set-data", MessageSetData},
        {"[method]message.metadata", MessageMetadata},
        {"[method]message.add-metadata", MessageAddMetadata},
        {"[method]message.set-metadata", MessageSetMetadata},
        {"[method]message.remove-metadata", MessageRemoveMetadata},
    }));
  }
  {
    auto added = root.add_instance(kProducer);
    if (!added) return FromWasmtime(added.err(), "linking producer");
    wc::LinkerInstance producer = std::move(added).unwrap();
    FERRY_RETURN_IF_ERROR(Define(producer, "send", Send));
  }
  {
    auto added = root.add_instance(kRequestReply);
    if (!added) return FromWasmtime(added.err(), "linking request-reply");
    wc::LinkerInstance rr = std::move(added).unwrap();
    FERRY_RETURN_IF_ERROR(
        DefineResource(rr, "request-options", kRequestOptionsType, DropOptions));
    FERRY_RETURN_IF_ERROR(DefineAll(rr, {
        {"[constructor]request-options", RequestOptionsNew},
        {"[method]request-options.set-timeout-ms", SetTimeout},
        {"[method]request-options.set-expected-replies", SetExpectedReplies},
        {"request", Request},
        {"reply", Reply},
    }));
  }
  return Status::Ok();
}

}  // namespace ferry::wasm
