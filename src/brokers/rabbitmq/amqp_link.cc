#include "brokers/rabbitmq/amqp_link.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "brokers/rabbitmq/amqp_tls.h"

namespace ferry::amqp {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

// Statuses after which the connection cannot be used any more.
bool ConnectionLevel(int status) {
  switch (status) {
    case AMQP_STATUS_SOCKET_ERROR:
    case AMQP_STATUS_CONNECTION_CLOSED:
    case AMQP_STATUS_HEARTBEAT_TIMEOUT:
    case AMQP_STATUS_SOCKET_CLOSED:
    case AMQP_STATUS_TCP_ERROR:
    case AMQP_STATUS_TCP_SOCKETLIB_INIT_ERROR:
    case AMQP_STATUS_SSL_ERROR:
    case AMQP_STATUS_SSL_CONNECTION_FAILED:
    case AMQP_STATUS_BAD_AMQP_DATA:
    case AMQP_STATUS_UNKNOWN_CLASS:
    case AMQP_STATUS_UNKNOWN_METHOD:
    case AMQP_STATUS_INVALID_PARAMETER:
    case AMQP_STATUS_TIMEOUT:  // of an RPC: the connection is out of step
      return true;
    default:
      return false;
  }
}

Error ServerClose(std::uint16_t code, amqp_bytes_t text, std::string_view context) {
  std::string message = std::string(context) + ": " + Str(text);
  switch (code) {
    case AMQP_ACCESS_REFUSED:
    case AMQP_NOT_ALLOWED:
      return Error::PermissionDenied(std::move(message));
    case AMQP_NOT_FOUND:
      return Error::NotFound(std::move(message));
    case AMQP_PRECONDITION_FAILED:
    case AMQP_RESOURCE_LOCKED:
      return Error::FailedPrecondition(std::move(message));
    case AMQP_CONTENT_TOO_LARGE:
    case AMQP_RESOURCE_ERROR:
      return Error::ResourceExhausted(std::move(message));
    case AMQP_CONNECTION_FORCED:
      return Error::Connection(std::move(message));
    default:
      return Error::Connection(std::move(message) + " (AMQP " + std::to_string(code) + ")");
  }
}

}  // namespace

Error StatusError(int status, std::string_view context) {
  std::string text = std::string(context) + ": " + amqp_error_string2(status);
  if (status == AMQP_STATUS_SOCKET_ERROR && errno != 0 && errno != EINPROGRESS)
    text += " (" + std::string(std::strerror(errno)) + ")";
  switch (status) {
    case AMQP_STATUS_NO_MEMORY:
    case AMQP_STATUS_TABLE_TOO_BIG:
      return Error::ResourceExhausted(std::move(text));
    case AMQP_STATUS_TIMEOUT:
      return Error::Timeout(std::move(text));
    case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED:
    case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
    case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
      return Error::Connection(std::move(text));
    case AMQP_STATUS_INVALID_PARAMETER:
    case AMQP_STATUS_BAD_URL:
      return Error::InvalidArgument(std::move(text));
    default:
      if (ConnectionLevel(status)) return Error::Connection(std::move(text));
      return Error::Internal(std::move(text));
  }
}

Error RpcError(const amqp_rpc_reply_t& reply, std::string_view context) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Error::Internal(std::string(context) + ": no error");
    case AMQP_RESPONSE_NONE:
      return Error::Connection(std::string(context) + ": no reply from the server");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return StatusError(reply.library_error, context);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return ServerClose(m->reply_code, m->reply_text, context);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return ServerClose(m->reply_code, m->reply_text, context);
      }
      return Error::Internal(std::string(context) + ": unexpected method from the server");
  }
  return Error::Internal(std::string(context) + ": unknown reply");
}

WakeFd::WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
WakeFd::~WakeFd() {
  if (fd_ >= 0) ::close(fd_);
}
void WakeFd::Wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}
void WakeFd::Drain() {
  std::uint64_t v = 0;
  [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
}

Link::Link(const RabbitMqOptions& options, std::string display, std::string name,
           Callbacks callbacks)
    : options_(options),
      display_(std::move(display)),
      name_(std::move(name)),
      callbacks_(std::move(callbacks)),
      window_(options.max_unconfirmed) {}

Link::~Link() { Close(); }

Status Link::Open() {
  if (thread_.joinable()) return Status::Ok();
  stop_ = false;
  {
    std::lock_guard lock(mutex_);
    closed_ = false;
  }
  FERRY_RETURN_IF_ERROR(Connect(/*first=*/true));
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Link::Close() {
  stop_ = true;
  wake_.Wake();
  {
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (conn_) {
    amqp_connection_close(conn_.get(), AMQP_REPLY_SUCCESS);
    conn_.reset();
  }
  connected_ = false;
  FailConfirms(Error::Connection(display_ + " is closed"));
  // Whatever is still queued finds no connection and fails at once.
  std::deque<std::function<void()>> left;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    left.swap(commands_);
  }
  for (auto& fn : left) fn();
}

Status Link::Connect(bool first) {
  ConnectionPtr conn(amqp_new_connection());
  if (!conn) return Error::ResourceExhausted("amqp_new_connection failed");
  const std::string where = "cannot connect to " + display_;
  amqp_socket_t* socket = nullptr;
  TlsVerdict verdict;
  if (options_.tls) {
    socket = amqp_ssl_socket_new(conn.get());
    if (!socket) return Error::Internal(where + ": cannot make a TLS socket");
    FERRY_RETURN_IF_ERROR(ConfigureTls(socket, options_, verdict, where));
  } else {
    socket = amqp_tcp_socket_new(conn.get());
    if (!socket) return Error::Internal(where + ": cannot make a socket");
  }
  timeval timeout = ToTimeval(options_.connect_timeout);
  errno = 0;
  int rc = amqp_socket_open_noblock(socket, options_.host.c_str(), options_.port, &timeout);
  if (options_.tls) ForgetVerdict(socket);
  if (rc != AMQP_STATUS_OK && options_.tls)
    if (const std::string why = TlsFailure(rc, verdict, options_); !why.empty())
      return Error::Connection(where + ": " + why);
  // rabbitmq-c's non-blocking connect leaves errno at EINPROGRESS whatever
  // the reason, so say what it means.
  if (rc == AMQP_STATUS_SOCKET_ERROR)
    return Error::Connection(where + ": the connection was refused or the host is unreachable");
  if (rc == AMQP_STATUS_TIMEOUT)
    return Error::Connection(where + ": no answer within " +
                             std::to_string(options_.connect_timeout.count()) + " ms");
  if (rc != AMQP_STATUS_OK) return StatusError(rc, where);
  amqp_set_handshake_timeout(conn.get(), &timeout);
  amqp_set_rpc_timeout(conn.get(), &timeout);
  amqp_table_entry_t entry;
  entry.key = amqp_cstring_bytes("connection_name");
  entry.value.kind = AMQP_FIELD_KIND_UTF8;
  entry.value.value.bytes = AmqpBytes(name_);
  amqp_table_t properties{1, &entry};
  const amqp_rpc_reply_t login = amqp_login_with_properties(
      conn.get(), options_.vhost.c_str(), 0, 131072, options_.heartbeat_s, &properties,
      AMQP_SASL_METHOD_PLAIN, options_.user.c_str(), options_.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    // TLS 1.3: the server checks the client's certificate after the
    // handshake, so its refusal comes while logging in.
    if (options_.tls && login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
      if (const std::string why = TlsFailure(login.library_error, verdict, options_); !why.empty())
        return Error::Connection(where + ": " + why);
    Error e = RpcError(login, where);
    if (e.code() == ErrorCode::kPermissionDenied)
      return Error::PermissionDenied(e.message() + " (user '" + options_.user + "', vhost '" +
                                     options_.vhost + "')");
    if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        login.library_error == AMQP_STATUS_CONNECTION_CLOSED)
      return Error::Connection(
          where + ": the server closed the connection during login (wrong user or password for '" +
          options_.user + "'?" +
          (options_.tls && options_.tls_cert_file.empty()
               ? " Or does the server require a client certificate (tls_cert, tls_key)?"
               : "") +
          ")");
    return e;
  }
  conn_ = std::move(conn);
  broken_.reset();
  free_channels_.clear();
  open_channels_.clear();
  next_channel_ = 2;
  amqp_channel_open(conn_.get(), kPublishChannel);
  open_channels_.insert(kPublishChannel);
  Status s = CheckRpc(kPublishChannel, where + ": opening a channel");
  if (s.ok() && callbacks_.on_open) s = callbacks_.on_open(*this, first);
  if (!s.ok()) {
    conn_.reset();
    return s;
  }
  connected_ = true;
  return Status::Ok();
}

Status Link::ReopenPublishChannel() {
  if (!conn_ || broken_) return Error::Connection(display_ + " is not connected");
  amqp_channel_open(conn_.get(), kPublishChannel);
  open_channels_.insert(kPublishChannel);
  return CheckRpc(kPublishChannel, display_ + ": opening a channel");
}

Status Link::StartConfirms() {
  amqp_confirm_select(conn_.get(), kPublishChannel);
  FERRY_RETURN_IF_ERROR(CheckRpc(kPublishChannel, display_ + ": confirm.select"));
  std::lock_guard lock(mutex_);
  next_tag_ = 0;
  return Status::Ok();
}

Status Link::CheckRpc(amqp_channel_t channel, std::string_view context) {
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn_.get());
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return Status::Ok();
  Error e = RpcError(reply, context);
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
      reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_channel_close_ok_t ok{};
    amqp_send_method(conn_.get(), channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    if (open_channels_.erase(channel) && channel != kPublishChannel) free_channels_.push_back(channel);
  } else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
             reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    amqp_connection_close_ok_t ok{};
    amqp_send_method(conn_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    Broke(e);
  } else if (reply.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION ||
             ConnectionLevel(reply.library_error)) {
    Broke(e);
  }
  return e;
}

Result<amqp_channel_t> Link::OpenChannel() {
  if (!conn_) return Error::Connection(display_ + " is not connected");
  amqp_channel_t channel = 0;
  if (!free_channels_.empty()) {
    channel = free_channels_.back();
    free_channels_.pop_back();
  } else {
    const int max = amqp_get_channel_max(conn_.get());
    if (max > 0 && next_channel_ > max)
      return Error::ResourceExhausted(display_ + ": no channel left (the server allows " +
                                      std::to_string(max) + ")");
    channel = next_channel_++;
  }
  amqp_channel_open(conn_.get(), channel);
  open_channels_.insert(channel);
  FERRY_RETURN_IF_ERROR(CheckRpc(channel, display_ + ": opening a channel"));
  return channel;
}

void Link::CloseChannel(amqp_channel_t channel) {
  if (!conn_ || broken_ || !open_channels_.count(channel)) return;
  const amqp_rpc_reply_t reply = amqp_channel_close(conn_.get(), channel, AMQP_REPLY_SUCCESS);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    open_channels_.erase(channel);
    if (channel != kPublishChannel) free_channels_.push_back(channel);
    return;
  }
  (void)CheckRpc(channel, display_ + ": closing a channel");
}

void Link::Broke(const Error& why) {
  if (!broken_) broken_ = why;
}

void Link::Post(std::function<void()> fn) {
  {
    std::unique_lock lock(mutex_);
    if (!closed_) {
      commands_.push_back(std::move(fn));
      cv_.notify_all();
      lock.unlock();
      wake_.Wake();
      return;
    }
  }
  fn();
}

Status Link::Call(std::function<Status()> fn, Deadline deadline) {
  struct State {
    bool done = false;
    std::optional<Error> error;
  };
  auto state = std::make_shared<State>();
  Post([this, state, fn = std::move(fn)] {
    Status s = fn();
    std::lock_guard lock(mutex_);
    state->done = true;
    if (!s.ok()) state->error = s.error();
    cv_.notify_all();
  });
  std::unique_lock lock(mutex_);
  if (!cv_.wait_until(lock, deadline, [&] { return state->done; }))
    return Error::Timeout(display_ + ": the connection's thread did not answer in time");
  if (state->error) return *state->error;
  return Status::Ok();
}

Status Link::Publish(std::string exchange, std::string routing_key, ferry::Bytes body,
                     FillProperties fill, Deadline deadline) {
  if (!connected_) return Error::Connection(display_ + " is not connected");
  auto confirm = std::make_shared<Confirm>();
  Enqueue(std::move(exchange), routing_key, std::move(body), std::move(fill), confirm);
  std::unique_lock lock(mutex_);
  if (!cv_.wait_until(lock, deadline, [&] { return confirm->done; }))
    return Error::ResourceExhausted("the server did not confirm a message to " + routing_key +
                                    " before the deadline");
  if (confirm->error) return *confirm->error;
  return Status::Ok();
}

Status Link::PublishAsync(std::string exchange, std::string routing_key, ferry::Bytes body,
                          FillProperties fill, Deadline deadline, PublishCompletion done) {
  if (!connected_) return Error::Connection(display_ + " is not connected");
  FERRY_RETURN_IF_ERROR(window_.Acquire(deadline, display_ + ": publish to " + routing_key));
  auto confirm = std::make_shared<Confirm>();
  confirm->completion = std::move(done);
  Enqueue(std::move(exchange), std::move(routing_key), std::move(body), std::move(fill),
          std::move(confirm));
  return Status::Ok();
}

void Link::Enqueue(std::string exchange, std::string routing_key, ferry::Bytes body,
                   FillProperties fill, std::shared_ptr<Confirm> confirm) {
  Post([this, confirm = std::move(confirm), exchange = std::move(exchange),
        routing_key = std::move(routing_key), body = std::move(body), fill = std::move(fill)] {
    std::optional<Error> failed;
    if (!conn_ || broken_) {
      failed = Error::Connection(display_ + " is not connected");
    } else {
      amqp_basic_properties_t props{};
      fill(props);
      const amqp_bytes_t content{body.size(), const_cast<std::uint8_t*>(body.data())};
      const int rc = amqp_basic_publish(conn_.get(), kPublishChannel, AmqpBytes(exchange),
                                        AmqpBytes(routing_key), 0, 0, &props, content);
      if (rc != AMQP_STATUS_OK) {
        failed = StatusError(rc, "publishing to " + routing_key);
        if (ConnectionLevel(rc)) Broke(*failed);
      }
    }
    std::vector<std::shared_ptr<Confirm>> done;
    {
      std::lock_guard lock(mutex_);
      if (!failed) {
        confirms_[++next_tag_] = confirm;
        return;
      }
      if (auto async = Finish(confirm, std::move(failed))) done.push_back(std::move(async));
      cv_.notify_all();
    }
    Complete(done);
  });
}

std::shared_ptr<Link::Confirm> Link::Finish(const std::shared_ptr<Confirm>& confirm,
                                            std::optional<Error> error) {
  confirm->done = true;
  confirm->error = std::move(error);
  return confirm->completion ? confirm : nullptr;
}

// The I/O thread (or Close's), outside mutex_.
void Link::Complete(std::vector<std::shared_ptr<Confirm>>& done) {
  for (auto& c : done) {
    c->completion(c->error ? Status(*c->error) : Status::Ok());
    window_.Release();  // after the report: the place is held until then
  }
}

void Link::Settle(std::uint64_t tag, bool multiple, bool ok) {
  std::vector<std::shared_ptr<Confirm>> done;
  {
    std::lock_guard lock(mutex_);
    auto end = multiple ? confirms_.upper_bound(tag) : confirms_.find(tag);
    auto begin = multiple ? confirms_.begin() : end;
    if (!multiple) {
      if (end == confirms_.end()) return;
      ++end;
    }
    for (auto it = begin; it != end; ++it) {
      std::optional<Error> error;
      if (!ok) error = Error::Connection("the server refused (nacked) the message");
      if (auto async = Finish(it->second, std::move(error))) done.push_back(std::move(async));
    }
    confirms_.erase(begin, end);
    cv_.notify_all();
  }
  Complete(done);
}

void Link::FailConfirms(const Error& why) {
  std::vector<std::shared_ptr<Confirm>> done;
  {
    std::lock_guard lock(mutex_);
    for (auto& [tag, confirm] : confirms_)
      if (auto async = Finish(confirm, why.WithContext("the message was not confirmed")))
        done.push_back(std::move(async));
    confirms_.clear();
    cv_.notify_all();
  }
  Complete(done);
}

bool Link::HandleFrame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return true;
  const amqp_channel_t channel = frame.channel;
  void* decoded = frame.payload.method.decoded;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_ack_t*>(decoded);
      if (channel == kPublishChannel) Settle(m->delivery_tag, m->multiple, true);
      return true;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_nack_t*>(decoded);
      if (channel == kPublishChannel) Settle(m->delivery_tag, m->multiple, false);
      return true;
    }
    case AMQP_BASIC_RETURN_METHOD: {  // not asked for (no mandatory flag); read and drop it
      amqp_message_t message;
      const amqp_rpc_reply_t r = amqp_read_message(conn_.get(), channel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        Broke(RpcError(r, display_));
        return false;
      }
      amqp_destroy_message(&message);
      return true;
    }
    case AMQP_BASIC_CANCEL_METHOD:
      if (callbacks_.on_channel_closed)
        callbacks_.on_channel_closed(
            *this, channel, Error::NotFound("the server cancelled the consumer (its queue was deleted?)"));
      return true;
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_channel_close_t*>(decoded);
      Error e = ServerClose(m->reply_code, m->reply_text, display_);
      amqp_channel_close_ok_t ok{};
      amqp_send_method(conn_.get(), channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      open_channels_.erase(channel);
      if (channel == kPublishChannel) FailConfirms(e);
      else free_channels_.push_back(channel);
      if (callbacks_.on_channel_closed) callbacks_.on_channel_closed(*this, channel, e);
      return !broken_;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_connection_close_t*>(decoded);
      Broke(ServerClose(m->reply_code, m->reply_text, display_));
      amqp_connection_close_ok_t ok{};
      amqp_send_method(conn_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      return false;
    }
    default:
      return true;
  }
}

bool Link::ServeOnce() {
  std::deque<std::function<void()>> commands;
  {
    std::lock_guard lock(mutex_);
    commands.swap(commands_);
  }
  for (auto& fn : commands) fn();
  if (broken_) return false;
  amqp_connection_state_t c = conn_.get();
  if (!amqp_frames_enqueued(c) && !amqp_data_in_buffer(c)) {
    pollfd fds[2] = {{amqp_get_sockfd(c), POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
    ::poll(fds, 2, 200);
    if (fds[1].revents) wake_.Drain();
  }
  timeval zero{0, 0};
  // A bounded batch, so commands (acks, publishes) wait for at most this many.
  for (int i = 0; i < 64 && !broken_; ++i) {
    amqp_maybe_release_buffers(c);
    Envelope envelope;
    const amqp_rpc_reply_t r = amqp_consume_message(c, envelope.get(), &zero, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      if (callbacks_.on_delivery) callbacks_.on_delivery(*envelope);
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
      break;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      amqp_frame_t frame;
      const int rc = amqp_simple_wait_frame_noblock(c, &frame, &zero);
      if (rc == AMQP_STATUS_TIMEOUT) break;
      if (rc != AMQP_STATUS_OK) {
        Broke(StatusError(rc, "connection to " + display_));
        return false;
      }
      if (!HandleFrame(frame)) return false;
      continue;
    }
    Broke(RpcError(r, "connection to " + display_));
    return false;
  }
  return !broken_;
}

void Link::Run() {
  auto wait = options_.reconnect_wait;
  bool warned = false;
  while (!stop_) {
    if (conn_) {
      if (ServeOnce()) continue;
      const Error why = broken_.value_or(Error::Connection(display_ + ": connection lost"));
      conn_.reset();  // closes the socket
      connected_ = false;
      FailConfirms(why);
      if (callbacks_.on_lost) callbacks_.on_lost(why);
      wait = options_.reconnect_wait;
      warned = false;
      continue;
    }
    // Disconnected: wait (running what is posted, which fails at once), then try again.
    const auto until = Clock::now() + wait;
    while (!stop_ && Clock::now() < until) {
      std::deque<std::function<void()>> commands;
      {
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, until, [&] { return stop_.load() || !commands_.empty(); });
        commands.swap(commands_);
      }
      for (auto& fn : commands) fn();
    }
    if (stop_) break;
    Status s = Connect(/*first=*/false);
    if (s.ok()) {
      spdlog::info("{}: reconnected", display_);
      continue;
    }
    if (!warned) spdlog::warn("{}: reconnecting: {}", display_, s.error().message());
    warned = true;
    wait = std::min(wait * 2, options_.max_reconnect_wait);
  }
}

}  // namespace ferry::amqp
