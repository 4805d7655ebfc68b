// Internal: one WebSocket client of the gateway, over plain TCP or TLS.
// Everything but Deliver, Close and DropSubscriptions runs on the
// connection's strand. Included only by gateway.cc.
#pragma once

#include <deque>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "core/topic.h"
#include "gateway/core.h"
#include "gateway/wire.h"

namespace ferry::gateway {

template <class Stream>  // beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>
class WsSession final : public SessionBase,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Core& core, Stream stream, Principal who, std::shared_ptr<Broker> broker,
            ConnectionSlot slot, std::string peer)
      : core_(core),
        ws_(std::move(stream)),
        who_(std::move(who)),
        broker_(std::move(broker)),
        slot_(std::move(slot)),
        peer_(std::move(peer)),
        broker_strand_(net::make_strand(core.publish_pool.get_executor())),
        close_timer_(ws_.get_executor()) {
    ++core_.counters.websockets;
  }
  ~WsSession() override { --core_.counters.websockets; }

  void Run(http::request<http::string_body> request) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = std::chrono::seconds(60);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "ferry"); }));
    ws_.read_message_max(core_.config.max_message_bytes);
    ws_.binary(true);
    upgrade_ = std::move(request);  // kept until the handshake completes
    ws_.async_accept(upgrade_, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->Teardown(ec);
      if (self->core_.stopping) return self->Teardown({});
      ++self->core_.counters.accepted;
      self->core_.Register(self);
      spdlog::debug("gateway: {} connected as {}", self->peer_, self->who_.who);
      self->Read();
    });
  }

  void Close(std::uint16_t code, std::string reason) override {
    net::post(ws_.get_executor(), [self = this->shared_from_this(), code, reason] {
      self->CloseWith(code, reason, false);
    });
  }

  void DropSubscriptions() override {
    std::map<std::uint32_t, std::string> subs;
    {
      std::lock_guard lock(subs_mutex_);
      subs_dropped_ = true;
      subs.swap(subs_);
    }
    for (const auto& [id, pattern] : subs) core_.hub.Leave(broker_.get(), pattern, this, id);
  }

  const Broker* broker() const override { return broker_.get(); }

  // On the broker's delivery thread: encodes and queues, never blocks.
  void Deliver(std::uint32_t id, const Message& message) override {
    if (closing_ || slow_) return;
    std::string frame = EncodeMessage(id, message);
    if (frame.size() > core_.config.max_message_bytes)
      frame = EncodeError(id, Error::ResourceExhausted(
                                  "a message on " + message.topic + " of " +
                                  std::to_string(message.data.size()) +
                                  " bytes is larger than the gateway's max_message_bytes"));
    const std::uint64_t n = frame.size();
    if (queued_bytes_.fetch_add(n) + n > core_.config.send_buffer_bytes) {
      queued_bytes_ -= n;
      if (!slow_.exchange(true)) {
        ++core_.counters.slow_consumers;
        spdlog::warn("gateway: {} reads too slowly ({} bytes queued); closing it with 4008",
                     peer_, queued_bytes_.load());
        net::post(ws_.get_executor(), [self = this->shared_from_this()] {
          self->CloseWith(kCloseSlowConsumer, "slow consumer: send buffer full", true);
        });
      }
      return;
    }
    net::post(ws_.get_executor(), [self = this->shared_from_this(), f = std::move(frame)]() mutable {
      self->Push(std::move(f));
    });
  }

 private:
  void Read() {
    ws_.async_read(in_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->OnRead(ec);
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        ++core_.counters.protocol_errors;
        spdlog::info("gateway: {} sent a message over max_message_bytes; closed with 1009", peer_);
      }
      return Teardown(ec);
    }
    if (closing_) {  // draining until the peer answers our close
      in_.consume(in_.size());
      return Read();
    }
    if (!ws_.got_binary()) {
      in_.consume(in_.size());
      ++core_.counters.protocol_errors;
      CloseWith(static_cast<std::uint16_t>(websocket::close_code::unknown_data),
                "binary frames only (see docs/GATEWAY.md)", false);
      return Read();
    }
    auto frame = DecodeClientFrame(beast::buffers_to_string(in_.data()));
    in_.consume(in_.size());
    if (!frame.ok()) {
      ++core_.counters.protocol_errors;
      Send(EncodeError(0, frame.error()));
      CloseWith(static_cast<std::uint16_t>(websocket::close_code::protocol_error),
                "malformed frame", false);
      return Read();
    }
    Handle(std::move(frame).value());
    if (MustPause()) {
      read_paused_ = true;
      ++core_.counters.read_pauses;
    } else
      Read();
  }

  // Reading stops while the broker is behind on this client's publishes,
  // or while the client does not read its answers (acks would pile up):
  // TCP then holds the client back.
  bool MustPause() const {
    return pending_publishes_ >= kMaxPendingPublishes ||
           queued_bytes_ > core_.config.send_buffer_bytes;
  }

  void MaybeResume() {
    if (!read_paused_ || closing_ || pending_publishes_ >= kMaxPendingPublishes ||
        queued_bytes_ > core_.config.send_buffer_bytes / 2)
      return;
    read_paused_ = false;
    Read();
  }

  void Deny(std::uint32_t id, const Error& error) {
    ++core_.counters.denied_operations;
    spdlog::debug("gateway: {} ({}): {}", peer_, who_.who, error.message());
    Send(EncodeError(id, error));
  }

  void Handle(ClientFrame f) {
    switch (f.op) {
      case Op::kPublish:
        return HandlePublish(f);
      case Op::kSubscribe:
        return HandleSubscribe(f);
      case Op::kUnsubscribe:
        return HandleUnsubscribe(f);
      case Op::kRequest:
        return HandleRequest(f);
      default:
        return;
    }
  }

  Status CheckMessage(const Message& m) const {
    FERRY_RETURN_IF_ERROR(ValidateTopic(m.topic));
    if (!m.reply_to.empty())
      return Error::InvalidArgument("a message from the gateway sets no reply_to; use a request");
    return Status::Ok();
  }

  void HandlePublish(ClientFrame& f) {
    Status ok = CheckMessage(f.message);
    if (ok.ok()) ok = AccessPolicy::MayPublish(who_.grants, f.message.topic);
    if (!ok.ok()) return Deny(f.id, ok.error());
    ++pending_publishes_;
    const auto deadline = std::chrono::milliseconds(core_.config.publish_timeout_ms);
    net::post(broker_strand_, [self = this->shared_from_this(), id = f.id,
                               m = std::move(f.message), deadline] {
      Status s = self->broker_->Publish(m, Clock::now() + deadline);
      net::post(self->ws_.get_executor(), [self, id, s] {
        --self->pending_publishes_;
        self->Send(s.ok() ? EncodeAck(id) : EncodeError(id, s.error()));
        self->MaybeResume();
      });
    });
  }

  void HandleSubscribe(ClientFrame& f) {
    Status ok = ValidatePattern(f.pattern);
    if (ok.ok() && core_.stopping) ok = Error::Cancelled("ferry is stopping");
    if (ok.ok()) ok = AccessPolicy::MaySubscribe(who_.grants, f.pattern);
    if (ok.ok() && sub_ids_.count(f.id))
      ok = Error::InvalidArgument("subscription id " + std::to_string(f.id) + " is in use");
    if (ok.ok() && sub_ids_.size() >= core_.config.max_subscriptions)
      ok = Error::ResourceExhausted("this connection has " + std::to_string(sub_ids_.size()) +
                                    " subscriptions, the gateway's max_subscriptions");
    if (!ok.ok()) return Deny(f.id, ok.error());
    sub_ids_.insert(f.id);
    net::post(broker_strand_, [self = this->shared_from_this(), id = f.id, pattern = f.pattern] {
      std::weak_ptr<Sink> sink = std::static_pointer_cast<Sink>(self);
      Status result = self->core_.hub.Join(*self->broker_, pattern, sink, id);
      if (result.ok()) {
        bool dropped;
        {
          std::lock_guard lock(self->subs_mutex_);
          dropped = self->subs_dropped_;
          if (!dropped) self->subs_[id] = pattern;
        }
        if (dropped) self->core_.hub.Leave(self->broker_.get(), pattern, self.get(), id);
      }
      net::post(self->ws_.get_executor(), [self, id, result] {
        if (!result.ok()) self->sub_ids_.erase(id);
        self->Send(result.ok() ? EncodeAck(id) : EncodeError(id, result.error()));
      });
    });
  }

  void HandleUnsubscribe(ClientFrame& f) {
    if (!sub_ids_.erase(f.id))
      return Deny(f.id, Error::NotFound("no subscription with id " + std::to_string(f.id)));
    net::post(broker_strand_, [self = this->shared_from_this(), id = f.id] {
      std::optional<std::string> pattern;
      {
        std::lock_guard lock(self->subs_mutex_);
        if (auto it = self->subs_.find(id); it != self->subs_.end()) {
          pattern = std::move(it->second);
          self->subs_.erase(it);
        }
      }
      // Once Leave returns no delivery for it runs: the ack comes last.
      if (pattern) self->core_.hub.Leave(self->broker_.get(), *pattern, self.get(), id);
      net::post(self->ws_.get_executor(), [self, id] { self->Send(EncodeAck(id)); });
    });
  }

  void HandleRequest(ClientFrame& f) {
    Status ok = CheckMessage(f.message);
    if (ok.ok()) ok = AccessPolicy::MayRequest(who_.grants, f.message.topic);
    if (ok.ok() && requests_in_flight_ >= core_.config.max_requests)
      ok = Error::ResourceExhausted("this connection has " + std::to_string(requests_in_flight_) +
                                    " requests waiting, the gateway's max_requests");
    if (ok.ok() && core_.requests_in_flight.fetch_add(1) >= kRequestThreads) {
      --core_.requests_in_flight;
      ok = Error::ResourceExhausted("the gateway is serving " + std::to_string(kRequestThreads) +
                                    " requests, its limit; try again later");
    }
    if (!ok.ok()) return Deny(f.id, ok.error());
    ++requests_in_flight_;
    const std::uint32_t bound = core_.config.max_request_ms;
    RequestOptions options;
    options.timeout = std::chrono::milliseconds(f.timeout_ms == 0 ? bound : std::min(f.timeout_ms, bound));
    options.expected_replies = std::clamp<std::uint32_t>(f.expected_replies, 1, 1000);
    net::post(core_.request_pool, [self = this->shared_from_this(), id = f.id,
                                   m = std::move(f.message), options] {
      auto replies = self->broker_->Request(m, options);
      --self->core_.requests_in_flight;
      std::string frame = replies.ok() ? EncodeReplies(id, *replies) : EncodeError(id, replies.error());
      if (frame.size() > self->core_.config.max_message_bytes)
        frame = EncodeError(id, Error::ResourceExhausted(
                                    "the replies are larger than the gateway's max_message_bytes"));
      net::post(self->ws_.get_executor(), [self, f = std::move(frame)]() mutable {
        --self->requests_in_flight_;
        self->Send(std::move(f));
      });
    });
  }

  // Answers and errors are counted against the send buffer too, but never
  // drop the client: it asked for them, and reading pauses (MustPause)
  // until they drain.
  void Send(std::string frame) {
    queued_bytes_ += frame.size();
    Push(std::move(frame));
  }

  void Push(std::string frame) {
    if (close_sent_ || pending_close_) {
      queued_bytes_ -= frame.size();
      return;
    }
    outbox_.push_back(std::move(frame));
    if (!writing_) WriteNext();
  }

  void WriteNext() {
    writing_ = true;
    ws_.async_write(net::buffer(outbox_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->OnWrite(ec);
                    });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    queued_bytes_ -= outbox_.front().size();
    outbox_.pop_front();
    if (ec) return Teardown(ec);
    MaybeResume();
    if (!outbox_.empty()) return WriteNext();
    if (pending_close_) SendClose();
  }

  // Closes with `code` once what is queued went out, or at once when
  // `drop_queued` (a slow consumer: its queue is the problem). A peer that
  // does not complete the close within 10 s is cut off.
  void CloseWith(std::uint16_t code, std::string reason, bool drop_queued) {
    if (closing_) return;
    closing_ = true;
    if (drop_queued) {
      while (outbox_.size() > (writing_ ? 1u : 0u)) {
        queued_bytes_ -= outbox_.back().size();
        outbox_.pop_back();
      }
    }
    pending_close_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    close_timer_.expires_after(std::chrono::seconds(10));
    close_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) beast::get_lowest_layer(self->ws_).close();
    });
    if (read_paused_) {  // the peer's close answer must be read
      read_paused_ = false;
      Read();
    }
    if (!writing_ && outbox_.empty()) SendClose();
  }

  void SendClose() {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(*pending_close_, [self = this->shared_from_this()](beast::error_code) {});
  }

  // The connection ended: its subscriptions end on the broker strand,
  // which keeps the session alive until none can deliver any more, so the
  // last owner is never a broker thread.
  void Teardown(beast::error_code ec) {
    if (torn_down_) return;
    torn_down_ = true;
    closing_ = true;
    close_timer_.cancel();
    if (ec && ec != websocket::error::closed && ec != net::error::operation_aborted &&
        ec != net::error::eof)
      spdlog::debug("gateway: {} disconnected: {}", peer_, ec.message());
    net::post(broker_strand_, [self = this->shared_from_this()] { self->DropSubscriptions(); });
  }

  Core& core_;
  websocket::stream<Stream> ws_;
  beast::flat_buffer in_;
  http::request<http::string_body> upgrade_;
  const Principal who_;
  const std::shared_ptr<Broker> broker_;
  ConnectionSlot slot_;
  const std::string peer_;
  net::strand<net::thread_pool::executor_type> broker_strand_;
  net::steady_timer close_timer_;

  // Strand only.
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool read_paused_ = false;
  bool close_sent_ = false;
  bool torn_down_ = false;
  std::optional<websocket::close_reason> pending_close_;
  std::uint32_t pending_publishes_ = 0;
  std::uint32_t requests_in_flight_ = 0;
  std::set<std::uint32_t> sub_ids_;  // granted, made or being made

  // Any thread.
  std::atomic<bool> closing_{false};
  std::atomic<bool> slow_{false};
  std::atomic<std::uint64_t> queued_bytes_{0};
  std::mutex subs_mutex_;
  std::map<std::uint32_t, std::string> subs_;  // id → pattern joined in the hub; guarded
  bool subs_dropped_ = false;                  // guarded
};

}  // namespace ferry::gateway
