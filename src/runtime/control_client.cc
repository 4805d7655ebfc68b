#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "ferry/control.h"
#include "runtime/control_protocol.h"

namespace ferry {
namespace {

// An open connection to a host's control socket.
class Connection {
 public:
  static Result<Connection> Open(const std::filesystem::path& path) {
    auto addr = control::SocketAddress(path);
    if (!addr.ok()) return addr.error();
    const std::string s = path.string();
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error::Internal("cannot create a socket");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
      ::close(fd);
      return Error::Connection("no ferry is listening on " + s +
                               " (start one with `ferry run`, or pass --control)");
    }
    return Connection(fd);
  }
  Connection(Connection&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  int fd_;
};

Result<std::string> Call(Connection& c, const control::Writer& request) {
  FERRY_RETURN_IF_ERROR(control::WriteFrame(c.fd(), request.Frame()));
  return control::ReadFrame(c.fd());
}

}  // namespace

Status ControlPublish(const std::filesystem::path& socket, std::string_view broker,
                      const Message& message) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  control::Writer w;
  w.U8(control::kPublish);
  w.Str(broker);
  w.Msg(message);
  auto reply = Call(*c, w);
  if (!reply.ok()) return reply.error();
  control::Reader r(*reply);
  return control::ReadStatus(r);
}

Result<std::vector<Message>> ControlRequest(const std::filesystem::path& socket,
                                            std::string_view broker, const Message& message,
                                            std::chrono::milliseconds timeout,
                                            std::uint32_t expected_replies) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  control::Writer w;
  w.U8(control::kRequest);
  w.Str(broker);
  w.Msg(message);
  w.U32(static_cast<std::uint32_t>(timeout.count()));
  w.U32(expected_replies);
  auto reply = Call(*c, w);
  if (!reply.ok()) return reply.error();
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(control::ReadStatus(r));
  auto n = r.U32();
  if (!n.ok()) return n.error();
  std::vector<Message> out;
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto m = r.Msg();
    if (!m.ok()) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

Status ControlSubscribe(const std::filesystem::path& socket, std::string_view broker,
                        std::string_view pattern, std::uint32_t count,
                        const std::function<bool(const Message&)>& on_message,
                        const std::function<void()>& on_ready) {
  auto c = Connection::Open(socket);
  if (!c.ok()) return c.error();
  control::Writer w;
  w.U8(control::kSubscribe);
  w.Str(broker);
  w.Str(pattern);
  w.U32(count);
  auto reply = Call(*c, w);
  if (!reply.ok()) return reply.error();
  control::Reader r(*reply);
  FERRY_RETURN_IF_ERROR(control::ReadStatus(r));
  if (on_ready) on_ready();
  while (true) {
    auto frame = control::ReadFrame(c->fd());
    if (!frame.ok()) return Error::Connection("the host closed the subscription");
    control::Reader fr(*frame);
    auto more = fr.U8();
    if (!more.ok()) return more.error();
    if (*more == 0) return Status::Ok();
    auto m = fr.Msg();
    if (!m.ok()) return m.error();
    if (!on_message(*m)) return Status::Ok();
  }
}

}  // namespace ferry
