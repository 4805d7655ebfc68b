// What the NATS adapter's files share: owners of cnats handles, the one
// conversion of cnats status codes, and messages to and from cnats.
// Only src/brokers/nats/ includes this header.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string_view>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::nats_internal {

inline constexpr const char* kContentTypeHeader = "Content-Type";
// JetStream keeps no reply subject with a stored message (the delivered
// message's reply is its ack subject), so a reply address travels here.
inline constexpr const char* kReplyToHeader = "Ferry-Reply-To";
// Metadata entries a plain header line cannot carry, percent-encoded as
// "<key>=<value>", one header value each (nats_message.cc).
inline constexpr const char* kMetaHeader = "Ferry-Meta";
// JetStream's deduplication id. A sender's own (from metadata) is kept; the
// one Ferry makes for a publish it may send twice starts with the prefix and
// is not shown to receivers as metadata.
inline constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
inline constexpr std::string_view kFerryMsgIdPrefix = "ferry-";

// About how many bytes `message` takes against the server's max_payload
// (data and header block, as ToNatsMsg builds them), never less.
std::size_t EncodedSize(const Message& message, bool stored);

// The one place cnats status codes become Ferry errors: "<context>: <text>".
Error NatsError(natsStatus s, std::string_view context);

// Owners of cnats handles.
struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
struct ConnectionDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct SubscriptionDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using OptionsPtr = std::unique_ptr<natsOptions, OptionsDeleter>;
using ConnectionPtr = std::unique_ptr<natsConnection, ConnectionDeleter>;
using SubscriptionPtr = std::unique_ptr<natsSubscription, SubscriptionDeleter>;
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;
struct JsDeleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
using JsPtr = std::unique_ptr<jsCtx, JsDeleter>;

// Copies a received message (the caller keeps ownership of `msg`).
// `stored`: a JetStream delivery, whose reply address is in a header.
Message ToMessage(natsMsg* msg, bool stored = false);

// A cnats message for `message`, with `reply` as its reply address.
// `stored`: published through JetStream, so the reply address goes in a
// header instead of the reply subject. Metadata a NATS header cannot carry,
// or that would set the adapter's own headers, is InvalidArgument.
Result<MsgPtr> ToNatsMsg(const Message& message, const char* reply, bool stored = false);

}  // namespace ferry::nats_internal
