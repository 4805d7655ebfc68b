// The client half of the control socket: ferry/control.h.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stop_token>
#include <utility>

#include "ferry/control.h"
#include "runtime/control_protocol.h"

namespace ferry {
namespace {

// An open connection to a host's control socket; closes it when destroyed.
class Connection {
 public:
  static Result<Connection> Open(const std::filesystem::path& path) {
    auto addr = control::SocketAddress(path);
    if (!addr.ok()) return addr.error();
    Connection c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (c.fd_ < 0) return Error::Internal(std::string("socket: ") + std::strerror(errno));
    if (::connect(c.fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0) return c;
    if (errno == EACCES || errno == EPERM)
      return Error::PermissionDenied("cannot connect to control socket " + path.string() + ": " +
                                     std::strerror(errno));
    return Error::Connection("no ferry is listening on " + path.string() +
                             " (start one with `ferry run`; one run with --config listens only"
                             " where [host].control_socket or --control says)");
  }

  Connection(Connection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Connection& operator=(Connection&&) = delete;
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Sends one request and reads the frame that answers it.
  Result<std::string> Call(const control::Request& request) {
    const std::string frame = control::EncodeRequest(request);
    // The host would refuse it, but only after we pushed it all through.
    if (frame.size() - 4 > control::kMaxFrame)
      return Error::ResourceExhausted("a control request of " + std::to_string(frame.size()) +
                                      " bytes is over the control socket's limit of " +
                                      std::to_string(control::kMaxFrame));
    const Status written = control::WriteFrame(fd_, frame);
    // A host that refuses the connection answers and closes before reading
    // the request, so the write may fail; the answer is still there to read
    // and says why better than a broken pipe does.
    auto reply = control::ReadFrame(fd_);
    if (!reply.ok() && !written.ok()) return written.error();
    return reply;
  }

  Result<std::string> Next() { return control::ReadFrame(fd_); }

  int fd() const { return fd_; }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  int fd_;
};

// Shuts the connection down when a stop is requested, which wakes a read
// blocked on it. Declared after the Connection, so it is gone before the
// descriptor is closed.
class ShutdownOnStop {
 public:
  ShutdownOnStop(std::stop_token stop, const Connection& c)
      : stop_(stop), callback_(std::move(stop), Shutdown{c.fd()}) {}

  static Error Stopped() { return Error::Cancelled("stopped before the control call finished"); }
  // `failure`, unless the stop caused it.
  Error Explain(Error failure) const { return stop_.stop_requested() ? Stopped() : failure; }
  bool stopped() const { return stop_.stop_requested(); }

 private:
  struct Shutdown {
    int fd;
    void operator()() const { ::shutdown(fd, SHUT_RDWR); }
  };
  std::stop_token stop_;
  std::stop_callback<Shutdown> callback_;
};

}  // namespace

Status ControlPublish(const std::filesystem::path& socket, std::string_view broker,
                      const Message& message, std::stop_token stop) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  const ShutdownOnStop watch(std::move(stop), *c);
  control::Request request;
  request.op = control::kPublish;
  request.broker = std::string(broker);
  request.message = message;
  auto reply = c->Call(request);
  if (!reply.ok()) return watch.Explain(reply.error());
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(r.Outcome());
  return r.End();
}

struct ControlPublisher::State {
  State(Connection c, std::stop_token stop) : connection(std::move(c)), watch(std::move(stop), connection) {}
  Connection connection;
  const ShutdownOnStop watch;  // after the connection: gone before it closes
  Status broken = Status::Ok();
};

ControlPublisher::ControlPublisher(std::unique_ptr<State> state) : state_(std::move(state)) {}
ControlPublisher::~ControlPublisher() = default;

Result<std::unique_ptr<ControlPublisher>> ControlPublisher::Open(const std::filesystem::path& socket,
                                                                 std::string_view broker,
                                                                 std::stop_token stop) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  auto state = std::make_unique<State>(std::move(c).value(), std::move(stop));
  control::Request request;
  request.op = control::kPublishStream;
  request.broker = std::string(broker);
  auto reply = state->connection.Call(request);
  if (!reply.ok()) return state->watch.Explain(reply.error());
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(r.Outcome());
  FERRY_RETURN_IF_ERROR(r.End());
  return std::unique_ptr<ControlPublisher>(new ControlPublisher(std::move(state)));
}

Status ControlPublisher::Publish(const Message& message) {
  State& s = *state_;
  if (s.watch.stopped()) return ShutdownOnStop::Stopped();
  if (!s.broken.ok()) return s.broken;
  const std::string frame = control::EncodeStreamMessage(message);
  if (frame.size() - 4 > control::kMaxFrame)
    return Error::ResourceExhausted("a message of " + std::to_string(frame.size()) +
                                    " bytes is over the control socket's limit of " +
                                    std::to_string(control::kMaxFrame));
  Status written = control::WriteFrame(s.connection.fd(), frame);
  auto reply = s.connection.Next();
  if (!reply.ok()) {
    s.broken = s.watch.Explain(written.ok() ? reply.error() : written.error());
    return s.broken;
  }
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(r.Outcome());
  return r.End();
}

Result<std::string> ControlStatus(const std::filesystem::path& socket, std::stop_token stop) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  const ShutdownOnStop watch(std::move(stop), *c);
  control::Request request;
  request.op = control::kStatus;
  request.broker.clear();
  auto reply = c->Call(request);
  if (!reply.ok()) return watch.Explain(reply.error());
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(r.Outcome());
  auto json = r.Str();
  if (!json.ok()) return json.error();
  FERRY_RETURN_IF_ERROR(r.End());
  return std::move(json).value();
}

Result<std::vector<Message>> ControlRequest(const std::filesystem::path& socket,
                                            std::string_view broker, const Message& message,
                                            std::chrono::milliseconds timeout,
                                            std::uint32_t expected_replies,
                                            std::stop_token stop) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  const ShutdownOnStop watch(std::move(stop), *c);
  control::Request request;
  request.op = control::kRequest;
  request.broker = std::string(broker);
  request.message = message;
  constexpr auto kMaxMs = std::numeric_limits<std::uint32_t>::max();
  request.timeout_ms = static_cast<std::uint32_t>(
      std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, kMaxMs));
  request.expected_replies = expected_replies;
  auto reply = c->Call(request);
  if (!reply.ok()) return watch.Explain(reply.error());
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(r.Outcome());
  auto n = r.U32();
  if (!n.ok()) return n.error();
  std::vector<Message> replies;
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto m = r.Msg();
    if (!m.ok()) return m.error();
    replies.push_back(std::move(*m));
  }
  FERRY_RETURN_IF_ERROR(r.End());
  return replies;
}

Status ControlSubscribe(const std::filesystem::path& socket, std::string_view broker,
                        std::string_view pattern, std::uint32_t count,
                        const std::function<bool(const Message&)>& on_message,
                        const std::function<void()>& on_ready, std::stop_token stop) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  const ShutdownOnStop watch(std::move(stop), *c);
  control::Request request;
  request.op = control::kSubscribe;
  request.broker = std::string(broker);
  request.pattern = std::string(pattern);
  request.count = count;
  auto reply = c->Call(request);
  if (!reply.ok()) return watch.Explain(reply.error());
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(r.Outcome());
  if (on_ready) on_ready();
  while (true) {
    // Messages already buffered are not shown once a stop was asked for.
    if (watch.stopped()) return ShutdownOnStop::Stopped();
    auto frame = c->Next();
    if (!frame.ok()) return watch.Explain(Error::Connection("the ferry on " + socket.string() +
                                              " ended the subscription: " +
                                              frame.error().message()));
    control::Reader fr(*frame);
    auto more = fr.U8();
    if (!more.ok()) return more.error();
    if (*more == 0) return Status::Ok();  // `count` messages were sent
    auto m = fr.Msg();
    if (!m.ok()) return m.error();
    if (!on_message(*m)) return Status::Ok();
  }
}

}  // namespace ferry
