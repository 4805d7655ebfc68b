#include "runtime/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

namespace ferry {
namespace {

// Whether some process accepts connections on `addr`.
bool SomeoneListens(const sockaddr_un& addr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return live;
}

// 0 turns the timeout off.
void SetReceiveTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// Replies with a bare status. A client that is gone cannot be told.
std::string OutcomeFrame(const Status& status) {
  control::Writer w;
  w.Outcome(status);
  return w.Frame();
}

void Reply(int fd, const Status& status) { (void)control::WriteFrame(fd, OutcomeFrame(status)); }

Error PathError(const std::filesystem::path& path, std::string_view what, int err) {
  return Error::FailedPrecondition("cannot " + std::string(what) + " control socket " +
                                   path.string() + ": " + std::strerror(err));
}

}  // namespace

ControlServer::ControlServer(std::filesystem::path path, BrokerLookup find_broker,
                             ControlServerOptions options)
    : path_(std::move(path)), find_broker_(std::move(find_broker)), options_(options) {}

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start() {
  if (listen_fd_ >= 0) return Error::FailedPrecondition("control socket is already started");
  auto addr = control::SocketAddress(path_);
  if (!addr.ok()) return addr.error();

  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Error::FailedPrecondition("control socket " + path_.string() +
                                       " exists and is not a socket; not replacing it");
    if (SomeoneListens(*addr))
      return Error::FailedPrecondition(
          "control socket " + path_.string() +
          " is in use by another ferry (choose another with --control or [host].control_socket)");
    // Left behind by a process that died without cleaning up.
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
      return PathError(path_, "replace the stale", errno);
  }

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return PathError(path_, "create", errno);
  // bind creates the file; the umask makes it 0600 from the first instant,
  // leaving no window in which another user could connect.
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) {
    ::close(fd);
    return PathError(path_, "bind", bind_errno);
  }
  if (::listen(fd, SOMAXCONN) != 0 || ::lstat(path_.c_str(), &st) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path_.c_str());
    return PathError(path_, "listen on", err);
  }
  socket_inode_ = st.st_ino;
  listen_fd_ = fd;
  stopping_ = false;
  acceptor_ = std::thread([this] { AcceptLoop(); });
  spdlog::info("control socket listening on {}", path_.string());
  return Status::Ok();
}

void ControlServer::Stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;

  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard lock(mutex_);
    // Wakes every connection thread blocked on its socket.
    for (auto& c : connections_)
      if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
    connections.swap(connections_);
  }
  for (auto& c : connections) c->thread.join();

  // Another host may have replaced a file we could not have known was taken.
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_ino == socket_inode_) ::unlink(path_.c_str());
}

void ControlServer::AcceptLoop() {
  while (true) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: wait for connections to end.
        spdlog::warn("control socket: cannot accept: {}", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      spdlog::error("control socket {} stops accepting: {}", path_.string(), std::strerror(errno));
      return;
    }
    if (const std::size_t served = ReapFinished(); served >= options_.max_connections) {
      Refuse(fd, served);
      continue;
    }
    std::lock_guard lock(mutex_);
    auto connection = std::make_unique<Connection>();
    Connection* c = connection.get();
    c->fd = fd;
    try {
      c->thread = std::thread([this, c] {
        Serve(*c);
        std::lock_guard inner(mutex_);
        ::close(c->fd);
        c->fd = -1;
        c->finished = true;
      });
    } catch (const std::system_error& e) {
      spdlog::warn("control socket: no thread for a connection: {}", e.what());
      ::close(fd);
      continue;
    }
    connections_.push_back(std::move(connection));
  }
}

// Joins the threads of connections that ended, so a long-running host does
// not collect one per `ferry publish`.
std::size_t ControlServer::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  std::size_t remaining = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if ((*it)->finished) finished.splice(finished.end(), connections_, it);
      it = next;
    }
    remaining = connections_.size();
  }
  for (auto& c : finished) c->thread.join();
  return remaining;
}

// Runs on the accepting thread, so it must not block: the frame is small
// and a fresh socket's send buffer is empty, and MSG_DONTWAIT makes sure.
// The client reads it as the reply to its request, even when its own write
// failed because we had already closed.
void ControlServer::Refuse(int fd, std::size_t served) {
  // One log line per burst of refusals, not one per refusal.
  const auto now = Clock::now();
  if (now - last_refusal_log_ > std::chrono::seconds(10))
    spdlog::warn("control socket: refusing connections, {} are being served (the limit)", served);
  last_refusal_log_ = now;
  control::Writer w;
  w.Outcome(Error::ResourceExhausted(
      "this ferry is serving " + std::to_string(served) +
      " control connections, its limit ([host].max_control_connections); try again later"));
  const std::string frame = w.Frame();
  (void)::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::close(fd);
}

void ControlServer::EndConnectionsTo(const Broker* broker) {
  std::lock_guard lock(mutex_);
  for (auto& c : connections_)
    if (c->fd >= 0 && c->broker == broker) ::shutdown(c->fd, SHUT_RDWR);
}

void ControlServer::Serve(Connection& connection) {
  const int fd = connection.fd;  // closed only after Serve returns
  // A client that connects and says nothing must not hold a thread forever.
  SetReceiveTimeout(fd, options_.read_timeout);
  auto frame = control::ReadFrame(fd);
  if (!frame.ok()) {
    // An oversized length deserves an answer; a broken transport has no one
    // to answer.
    if (frame.error().code() == ErrorCode::kResourceExhausted) Reply(fd, frame.error());
    return;
  }
  SetReceiveTimeout(fd, std::chrono::milliseconds(0));

  auto request = control::DecodeRequest(*frame);
  if (!request.ok()) {
    spdlog::debug("control socket: {}", request.error().message());
    Reply(fd, request.error());
    return;
  }
  if (request->op == control::kStatus) {
    if (!options_.status) {
      Reply(fd, Error::Unsupported("this ferry does not report its status"));
      return;
    }
    control::Writer w;
    w.Outcome(Status::Ok());
    w.Str(options_.status());
    (void)control::WriteFrame(fd, w.Frame());
    return;
  }
  std::shared_ptr<Broker> broker = find_broker_(request->broker);
  if (broker) {
    std::lock_guard lock(mutex_);
    connection.broker = broker.get();
  }
  if (!broker) {
    Reply(fd, Error::NotFound("no broker named \"" + request->broker + "\" in this ferry"));
    return;
  }
  switch (request->op) {
    case control::kPublish:
      return ServePublish(fd, *broker, *request);
    case control::kRequest:
      return ServeRequest(fd, *broker, *request);
    case control::kSubscribe:
      return ServeSubscribe(fd, *broker, *request);
    case control::kPublishStream:
      return ServePublishStream(fd, *broker);
    case control::kStatus:
      return;  // served above
  }
}

void ControlServer::ServePublishStream(int fd, Broker& broker) {
  Reply(fd, Status::Ok());
  // Until the client closes (or Stop, or the broker's end, shuts the
  // connection down): one publish and one answer per frame, in order.
  while (true) {
    auto frame = control::ReadFrame(fd);
    if (!frame.ok()) {
      if (frame.error().code() == ErrorCode::kResourceExhausted) Reply(fd, frame.error());
      return;
    }
    auto message = control::DecodeStreamMessage(*frame);
    if (!message.ok()) {
      Reply(fd, message.error());
      return;
    }
    if (!control::WriteFrame(fd, OutcomeFrame(broker.Publish(*message, Clock::now() + options_.max_wait))).ok())
      return;
  }
}

void ControlServer::ServePublish(int fd, Broker& broker, const control::Request& request) {
  Reply(fd, broker.Publish(request.message, Clock::now() + options_.max_wait));
}

void ControlServer::ServeRequest(int fd, Broker& broker, const control::Request& request) {
  RequestOptions options;
  const std::chrono::milliseconds asked(request.timeout_ms);
  options.timeout = asked.count() == 0 ? options_.max_wait : std::min(options_.max_wait, asked);
  options.expected_replies = std::max<std::uint32_t>(request.expected_replies, 1);
  auto replies = broker.Request(request.message, options);
  control::Writer w;
  if (!replies.ok()) {
    w.Outcome(replies.error());
  } else {
    w.Outcome(Status::Ok());
    w.U32(static_cast<std::uint32_t>(replies->size()));
    for (const auto& reply : *replies) w.Msg(reply);
  }
  if (w.size() > control::kMaxFrame) {
    Reply(fd, Error::ResourceExhausted("the replies do not fit in one control frame"));
    return;
  }
  (void)control::WriteFrame(fd, w.Frame());
}

void ControlServer::ServeSubscribe(int fd, Broker& broker, const control::Request& request) {
  // Shared by this thread and the broker's delivery thread.
  std::mutex mutex;
  std::condition_variable ready_cv;
  bool ready = false;  // the ok reply is out; messages may follow it
  bool done = false;   // no more messages: count reached or client gone
  bool count_reached = false;
  std::uint32_t sent = 0;

  SubscribeOptions options;
  options.pattern = request.pattern;
  options.manual_ack = false;  // a tap, not a consumer: nothing to settle
  auto subscription = broker.Subscribe(std::move(options), [&](Delivery delivery) {
    std::unique_lock lock(mutex);
    ready_cv.wait(lock, [&] { return ready || done; });
    if (done) return;
    control::Writer w;
    w.U8(1);
    w.Msg(delivery.message);
    const bool written = w.size() <= control::kMaxFrame && control::WriteFrame(fd, w.Frame()).ok();
    count_reached = written && request.count != 0 && ++sent >= request.count;
    if (!written || count_reached) {
      done = true;
      ::shutdown(fd, SHUT_RD);  // wakes the recv() below
    }
  });
  if (!subscription.ok()) {
    Reply(fd, subscription.error());
    return;
  }
  {
    std::lock_guard lock(mutex);
    control::Writer w;
    w.Outcome(Status::Ok());
    ready = true;
    if (!control::WriteFrame(fd, w.Frame()).ok()) done = true;
  }
  ready_cv.notify_all();

  // Clients send nothing more: recv() returns when the client hangs up, the
  // count is reached or Stop shuts the socket down.
  char byte;
  while (true) {
    const ssize_t n = ::recv(fd, &byte, 1, 0);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  ready_cv.notify_all();
  subscription->reset();  // waits out a running handler call

  if (count_reached) {
    control::Writer end;
    end.U8(0);
    (void)control::WriteFrame(fd, end.Frame());
  }
}

}  // namespace ferry
