// The engine's callbacks into the host: what a guest asks of Ferry beyond
// its own resources. Each runs on the worker thread running the guest call,
// converts, calls operations.h, and reports a failure as the interface's
// error. None throws or blocks past the call's deadline.
#include <chrono>
#include <limits>

#include "wasm/host_state.h"
#include "wasm/operations.h"

namespace ferry::wasm {
namespace {

HostState& StateOf(void* host) { return *static_cast<HostState*>(host); }

// The interface's error for a Ferry error: the 2025 shape carries the
// message in its case, 0.1.0's trace() the whole text.
bool Fail(fe_error* err, const Error& e) {
  const GuestError g = ToGuestError(e);
  fe_error_set(err, g.kind, ToFe(g.message), ToFe(g.full));
  return false;
}

bool Report(fe_error* err, const Status& s) { return s.ok() ? true : Fail(err, s.error()); }

void* Connect(void* host, fe_str name, fe_error* err) {
  auto broker = ConnectClient(StateOf(host), FromFe(name));
  if (!broker.ok()) {
    Fail(err, broker.error());
    return nullptr;
  }
  return *broker;
}

bool Send(void* host, void* client, fe_str topic, const fe_message* messages, std::size_t count,
          fe_error* err) {
  return WithMessages(messages, count, [&](std::span<Message> taken) {
    return Report(err, SendMessages(StateOf(host), *static_cast<Broker*>(client), FromFe(topic), taken));
  });
}

bool Request(void* host, void* client, fe_str topic, const fe_message* message,
             const std::uint32_t* timeout_ms, const std::uint32_t* expected, fe_message_sink* replies,
             fe_error* err) {
  auto* broker = static_cast<Broker*>(client);
  auto got = RequestMessages(StateOf(host), *broker, FromFe(topic), TakeMessage(*message),
                             timeout_ms ? std::optional(*timeout_ms) : std::nullopt,
                             expected ? std::optional(*expected) : std::nullopt);
  if (!got.ok()) return Fail(err, got.error());
  for (const Message& reply : *got) {
    MessageView view(reply, broker);  // replies to a reply go back the same way
    fe_message_sink_push(replies, view.get());
  }
  return true;
}

bool Reply(void* host, void* origin, fe_str reply_to, const fe_message* reply, fe_error* err) {
  return Report(err, ReplyTo(StateOf(host), static_cast<Broker*>(origin), FromFe(reply_to),
                             TakeMessage(*reply)));
}

bool Pull(void* host, void* client, fe_str channel, std::uint32_t wait_ms, fe_message_sink* out,
          fe_error* err) {
  auto* broker = static_cast<Broker*>(client);
  // "Wait as long as you may" arrives as the largest u32; the call's
  // deadline bounds it either way.
  const auto wait = wait_ms == std::numeric_limits<std::uint32_t>::max()
                        ? std::chrono::milliseconds(std::chrono::hours(24))
                        : std::chrono::milliseconds(wait_ms);
  auto got = PullMessages(StateOf(host), *broker, FromFe(channel), wait);
  if (!got.ok()) return Fail(err, got.error());
  for (const Message& m : *got) {
    MessageView view(m, broker);
    fe_message_sink_push(out, view.get());
  }
  return true;
}

bool Reconfigure(void* host, const fe_str* channels, std::size_t channel_count,
                 const fe_pair* extensions, std::size_t extension_count, fe_error* err) {
  HostState& state = StateOf(host);
  if (!state.services->reconfigure)
    return Fail(err, Error::Unsupported("this host cannot change subscriptions"));
  GuestConfiguration gc;
  for (std::size_t i = 0; i < channel_count; ++i) gc.channels.emplace_back(FromFe(channels[i]));
  for (std::size_t i = 0; i < extension_count; ++i)
    gc.extensions.emplace_back(std::string(FromFe(extensions[i].key)),
                               std::string(FromFe(extensions[i].value)));
  return Report(err, state.services->reconfigure(gc));
}

void Output(void* host, int stream, const std::uint8_t* data, std::size_t len) {
  HostState& state = StateOf(host);
  (stream == 2 ? state.err : state.out).Write(data, len);
}

constexpr fe_host_vtable kHostCalls{Connect, Send, Request, Reply, Pull, Reconfigure, Output};

}  // namespace

GuestError ToGuestError(const Error& e) {
  GuestError g;
  switch (e.code()) {
    case ErrorCode::kTimeout: g.kind = FE_ERROR_TIMEOUT; break;
    case ErrorCode::kConnection: g.kind = FE_ERROR_CONNECTION; break;
    case ErrorCode::kPermissionDenied: g.kind = FE_ERROR_PERMISSION_DENIED; break;
    default: break;
  }
  g.full = e.ToString();
  // The 2025 `other` case has always carried the code too.
  g.message = g.kind == FE_ERROR_OTHER ? g.full : e.message();
  return g;
}

const fe_host_vtable& HostCalls() { return kHostCalls; }

}  // namespace ferry::wasm
