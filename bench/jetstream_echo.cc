#include "jetstream_echo.h"

#include <nats/nats.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace ferry::bench {
namespace {

class Echo final : public JetStreamNativeEcho {
 public:
  Echo(const std::string& url, const std::string& stream, int max_ack_pending) {
    if (natsConnection_ConnectTo(&conn_, url.c_str()) != NATS_OK) Die("connect");
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = &Echo::OnPubAck;
    jo.PublishAsync.AckHandlerClosure = this;
    jo.PublishAsync.MaxPending = 4096;
    if (natsConnection_JetStream(&js_, conn_, &jo) != NATS_OK) Die("jetstream");
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.ManualAck = true;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverNew;
    so.Config.MaxAckPending = max_ack_pending;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (js_Subscribe(&sub_, js_, "echo.in", &Echo::OnMsg, this, nullptr, &so, &code) != NATS_OK)
      Die("subscribe");
  }
  ~Echo() override {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 5000;
    js_PublishAsyncComplete(js_, &po);
    jsCtx_Destroy(js_);
    natsConnection_Destroy(conn_);
    for (auto& [out, in] : pending_) natsMsg_Destroy(in);
  }

 private:
  [[noreturn]] static void Die(const char* what) {
    std::fprintf(stderr, "native jetstream echo: %s failed\n", what);
    std::exit(1);
  }

  // cnats's delivery thread: publish the copy, ack the original later.
  static void OnMsg(natsConnection*, natsSubscription*, natsMsg* in, void* closure) {
    auto* self = static_cast<Echo*>(closure);
    natsMsg* out = nullptr;
    natsMsg_Create(&out, "echo.out", nullptr, natsMsg_GetData(in), natsMsg_GetDataLength(in));
    const char** keys = nullptr;
    int n = 0;
    if (natsMsgHeader_Keys(in, &keys, &n) == NATS_OK) {
      for (int i = 0; i < n; ++i) {
        if (std::strcmp(keys[i], "Nats-Msg-Id") == 0) continue;
        const char* v = nullptr;
        if (natsMsgHeader_Get(in, keys[i], &v) == NATS_OK) natsMsgHeader_Set(out, keys[i], v);
      }
      std::free(keys);
    }
    {
      std::lock_guard lock(self->mutex_);
      self->pending_[out] = in;
    }
    natsMsg* give = out;
    if (js_PublishMsgAsync(self->js_, &give, nullptr) != NATS_OK) {
      {
        std::lock_guard lock(self->mutex_);
        self->pending_.erase(out);
      }
      natsMsg_Destroy(give);
      natsMsg_Nak(in, nullptr);
      natsMsg_Destroy(in);
    }
  }

  // cnats's thread for the stream's answers.
  static void OnPubAck(jsCtx*, natsMsg* out, jsPubAck* ack, jsPubAckErr*, void* closure) {
    auto* self = static_cast<Echo*>(closure);
    natsMsg* in = nullptr;
    {
      std::lock_guard lock(self->mutex_);
      auto it = self->pending_.find(out);
      if (it != self->pending_.end()) {
        in = it->second;
        self->pending_.erase(it);
      }
    }
    if (in) {
      if (ack) natsMsg_Ack(in, nullptr);
      else natsMsg_Nak(in, nullptr);
      natsMsg_Destroy(in);
    }
    natsMsg_Destroy(out);
  }

  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::mutex mutex_;
  std::map<natsMsg*, natsMsg*> pending_;  // copy -> original
};

}  // namespace

void MakeJetStreamStream(const std::string& url, const std::string& name, const std::string& subject) {
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  if (natsConnection_ConnectTo(&conn, url.c_str()) != NATS_OK ||
      natsConnection_JetStream(&js, conn, nullptr) != NATS_OK) {
    std::fprintf(stderr, "jetstream: cannot connect to %s\n", url.c_str());
    std::exit(1);
  }
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  const char* subjects[] = {subject.c_str()};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_AddStream(&info, js, &cfg, nullptr, &code) != NATS_OK) {
    std::fprintf(stderr, "jetstream: cannot make stream %s (%d)\n", name.c_str(), static_cast<int>(code));
    std::exit(1);
  }
  jsStreamInfo_Destroy(info);
  jsCtx_Destroy(js);
  natsConnection_Destroy(conn);
}

std::unique_ptr<JetStreamNativeEcho> MakeJetStreamNativeEcho(const std::string& url,
                                                             const std::string& stream,
                                                             int max_ack_pending) {
  return std::make_unique<Echo>(url, stream, max_ack_pending);
}

}  // namespace ferry::bench
