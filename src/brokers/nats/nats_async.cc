// JetStream publishes that do not wait (nats_internal.h, AsyncPublishes).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "brokers/nats/nats_internal.h"

namespace ferry::nats_internal {
namespace {

constexpr std::chrono::milliseconds kFirstWait{1000};
constexpr std::chrono::milliseconds kMaxWait{8000};
// How long a publish may go unanswered, resends included, before it is
// reported lost (and the delivery that sent it is tried again).
constexpr std::chrono::milliseconds kGiveUp{30000};

}  // namespace

void AsyncPublishes::Configure(jsOptions* options, natsConnection* conn) {
  conn_ = conn;
  options->PublishAsync.AckHandler = &AsyncPublishes::OnAck;
  options->PublishAsync.AckHandlerClosure = this;
  // Ferry's window bounds what is out; cnats's own bound never stalls first.
  options->PublishAsync.MaxPending = static_cast<int64_t>(window_.size()) * 2;
}

Status AsyncPublishes::Publish(jsCtx* js, MsgPtr msg, const std::string& topic,
                               const std::string& id, Deadline deadline, PublishCompletion done) {
  FERRY_RETURN_IF_ERROR(window_.Acquire(deadline, display_url_ + ": publish to " + topic));
  natsMsg* raw = msg.get();
  const auto wait = id.empty() ? kGiveUp : kFirstWait;
  {
    std::lock_guard lock(mutex_);
    pending_[raw] = Pending{std::move(done), topic, id, wait, Clock::now() + kGiveUp};
  }
  jsPubOptions jo;
  jsPubOptions_Init(&jo);
  if (!id.empty()) jo.MsgId = id.c_str();
  jo.MaxWait = wait.count();
  natsMsg* owned = msg.release();
  natsStatus s = js_PublishMsgAsync(js, &owned, &jo);
  if (s == NATS_OK) return Status::Ok();  // cnats owns the message now
  natsMsg_Destroy(owned);                 // still ours: cnats did not take it
  {
    std::lock_guard lock(mutex_);
    pending_.erase(raw);
  }
  window_.Release();
  return NatsError(s, "publishing to " + topic + " (JetStream)");
}

// cnats's thread. The message is cnats's to free unless resent (then
// js_PublishMsgAsync clears `msg` and takes it again).
void AsyncPublishes::OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err,
                           void* closure) {
  auto* self = static_cast<AsyncPublishes*>(closure);
  if (ack != nullptr) self->Finish(msg, Status::Ok());
  else self->Answer(js, msg, err);
  natsMsg_Destroy(msg);
}

void AsyncPublishes::Answer(jsCtx* js, natsMsg*& msg, jsPubAckErr* err) {
  const natsStatus s = err ? err->Err : NATS_ERR;
  std::string topic, id;
  std::chrono::milliseconds wait{};
  Deadline give_up{};
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(msg);
    if (it == pending_.end()) return;  // failed already (Close)
    topic = it->second.topic;
    id = it->second.id;
    give_up = it->second.give_up;
    wait = std::min(it->second.wait * 2, kMaxWait);
    it->second.wait = wait;
  }
  if (s == NATS_NO_RESPONDERS) {
    Finish(msg, Error::Connection("no JetStream stream stores " + topic +
                                  " (the broker's jetstream setting covers it)"));
    return;
  }
  const bool connected = natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
  if (s == NATS_TIMEOUT && !id.empty() && connected && Clock::now() + wait < give_up) {
    // Unanswered: the stream may have it or not. The same Nats-Msg-Id
    // makes a second copy a duplicate the stream drops.
    jsPubOptions jo;
    jsPubOptions_Init(&jo);
    jo.MsgId = id.c_str();
    jo.MaxWait = wait.count();
    natsMsg* key = msg;
    if (js_PublishMsgAsync(js, &msg, &jo) == NATS_OK) return;
    msg = key;  // not taken: fail it below
  }
  if (s == NATS_TIMEOUT && !connected) {
    Finish(msg, Error::Connection(display_url_ + ": the connection dropped before JetStream "
                                  "acknowledged a message to " + topic));
    return;
  }
  const std::string text = err && err->ErrText ? err->ErrText : natsStatus_GetText(s);
  Finish(msg, Error::Connection("JetStream did not store a message to " + topic + ": " + text));
}

void AsyncPublishes::Finish(natsMsg* msg, Status outcome) {
  PublishCompletion done;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(msg);
    if (it == pending_.end()) return;
    done = std::move(it->second.done);
    pending_.erase(it);
  }
  done(std::move(outcome));
  window_.Release();  // after the report: the place is held until then
}

void AsyncPublishes::FailAll(const Error& error) {
  std::map<natsMsg*, Pending> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(pending_);
  }
  for (auto& [msg, p] : left) {
    p.done(error);
    window_.Release();
  }
}

}  // namespace ferry::nats_internal
