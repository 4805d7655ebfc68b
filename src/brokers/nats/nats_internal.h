// What the NATS adapter's files share: owners of cnats handles, the one
// conversion of cnats status codes, and messages to and from cnats.
// Only src/brokers/nats/ includes this header.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string>
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

// Why a connect failed: the status text and, when cnats kept one on this
// thread, its detailed last error (the TLS verification failure, the
// server's -ERR line), on one line. `tls_without_cert`: TLS is on and no
// client certificate is set, so a server closing the connection at once
// most likely wants one (mutual TLS), and the text says so.
std::string ConnectFailureText(natsStatus s, bool tls_without_cert);

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

#include <map>
#include <mutex>

#include "brokers/broker.h"
#include "brokers/publish_window.h"

namespace ferry::nats_internal {

// JetStream publishes that do not wait for the stream's acknowledgement
// (Broker::PublishAsync), on cnats's js_PublishMsgAsync. One per
// connection, made with its JetStream context.
//
// A publish takes a place in the window (waiting up to its deadline while
// it is full), goes out, and is remembered by its natsMsg until cnats
// reports the stream's answer to OnAck. An answer that does not come
// within an attempt's wait (1 s, doubling to 8 s) is sent again under the
// same Nats-Msg-Id, so the stream keeps one copy; with the connection down,
// or after kGiveUp, the publish is lost and its completion says so.
//
// Threads: Publish on any thread; OnAck on cnats's thread for the
// context's reply subscription (or its timer), one at a time. Completions
// run there, outside this object's lock. FailAll (Close) completes what is
// left; OnAck for a publish already failed does nothing.
class AsyncPublishes {
 public:
  AsyncPublishes(std::uint32_t window, std::string display_url)
      : window_(window), display_url_(std::move(display_url)) {}

  // Points `options`' async-publish callbacks at this object; `conn` is
  // asked whether it is connected when an answer is late.
  void Configure(jsOptions* options, natsConnection* conn);

  // Sends `msg` (taken) to `topic`. `id` is its Nats-Msg-Id (empty: none,
  // and then it is never sent twice). Errors: not sent, `done` not called.
  Status Publish(jsCtx* js, MsgPtr msg, const std::string& topic, const std::string& id,
                 Deadline deadline, PublishCompletion done);

  // Completes every publish still waiting with `error`.
  void FailAll(const Error& error);

  const PublishWindow& window() const { return window_; }

 private:
  struct Pending {
    PublishCompletion done;
    std::string topic;
    std::string id;
    std::chrono::milliseconds wait;  // of the attempt on the wire
    Deadline give_up;
  };
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* closure);
  void Answer(jsCtx* js, natsMsg*& msg, jsPubAckErr* err);  // clears `msg` when resent
  void Finish(natsMsg* msg, Status outcome);

  PublishWindow window_;
  std::string display_url_;
  natsConnection* conn_ = nullptr;
  std::mutex mutex_;
  std::map<natsMsg*, Pending> pending_;
};

}  // namespace ferry::nats_internal
