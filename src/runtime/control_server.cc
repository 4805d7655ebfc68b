#include "runtime/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>

#include <spdlog/spdlog.h>

#include "runtime/control_protocol.h"

namespace ferry {
namespace {

// Whether some process accepts connections on `path`.
bool SomeoneListens(const sockaddr_un& addr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return live;
}

}  // namespace

ControlServer::ControlServer(std::filesystem::path path,
                             std::function<Broker*(std::string_view)> find_broker)
    : path_(std::move(path)), find_broker_(std::move(find_broker)) {}

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start() {
  auto addr = control::SocketAddress(path_);
  if (!addr.ok()) return addr.error();
  std::error_code ec;
  if (std::filesystem::exists(path_, ec)) {
    if (SomeoneListens(*addr))
      return Error::FailedPrecondition("control socket " + path_.string() +
                                       " is in use by another ferry (choose another with --control)");
    std::filesystem::remove(path_, ec);  // left behind by a process that died
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Error::Internal(std::string("socket: ") + std::strerror(errno));
  const mode_t old_mask = ::umask(0177);  // the socket file is created 0600
  const int bound = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  ::umask(old_mask);
  if (bound != 0 || ::listen(listen_fd_, 16) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return Error::FailedPrecondition("cannot listen on control socket " + path_.string() + ": " + why);
  }
  acceptor_ = std::thread([this] { AcceptLoop(); });
  spdlog::info("control socket listening on {}", path_.string());
  return Status::Ok();
}

void ControlServer::Stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::thread> clients;
  {
    std::lock_guard lock(mutex_);
    for (int fd : client_fds_) ::shutdown(fd, SHUT_RDWR);
    clients.swap(clients_);
  }
  for (auto& t : clients) t.join();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void ControlServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // shut down
    }
    std::lock_guard lock(mutex_);
    client_fds_.push_back(fd);
    clients_.emplace_back([this, fd] {
      Serve(fd);
      std::lock_guard inner(mutex_);
      std::erase(client_fds_, fd);
      ::close(fd);
    });
  }
}

void ControlServer::Serve(int fd) {
  using namespace control;
  auto frame = ReadFrame(fd);
  if (!frame.ok()) return;
  Reader in(*frame);
  Writer out;
  auto op = in.U8();
  auto broker_name = in.Str();
  if (!op.ok() || !broker_name.ok()) {
    PutStatus(out, Error::InvalidArgument("malformed control request"));
    (void)WriteFrame(fd, out.Frame());
    return;
  }
  Broker* broker = find_broker_(*broker_name);
  if (!broker) {
    PutStatus(out, Error::NotFound("no broker named '" + *broker_name + "' in this ferry"));
    (void)WriteFrame(fd, out.Frame());
    return;
  }
  switch (*op) {
    case kPublish: {
      auto m = in.Msg();
      PutStatus(out, m.ok() ? broker->Publish(*m, Clock::now() + std::chrono::seconds(30))
                            : Status(m.error()));
      (void)WriteFrame(fd, out.Frame());
      return;
    }
    case kRequest: {
      auto m = in.Msg();
      auto timeout = in.U32();
      auto expected = in.U32();
      if (!m.ok() || !timeout.ok() || !expected.ok()) {
        PutStatus(out, Error::InvalidArgument("malformed control request"));
        (void)WriteFrame(fd, out.Frame());
        return;
      }
      auto replies = broker->Request(
          *m, RequestOptions{std::chrono::milliseconds(*timeout), std::max<std::uint32_t>(*expected, 1)});
      if (!replies.ok()) {
        PutStatus(out, replies.error());
      } else {
        PutStatus(out, Status::Ok());
        out.U32(static_cast<std::uint32_t>(replies->size()));
        for (const auto& r : *replies) out.Msg(r);
      }
      (void)WriteFrame(fd, out.Frame());
      return;
    }
    case kSubscribe: {
      auto pattern = in.Str();
      auto count = in.U32();
      if (!pattern.ok() || !count.ok()) {
        PutStatus(out, Error::InvalidArgument("malformed control request"));
        (void)WriteFrame(fd, out.Frame());
        return;
      }
      // Messages are written from the broker's thread; the connection ends
      // when the count is reached or the client goes away.
      std::mutex m;
      std::condition_variable done_cv;
      bool done = false;
      std::uint32_t sent = 0;
      SubscribeOptions options;
      options.pattern = *pattern;
      options.manual_ack = false;
      auto sub = broker->Subscribe(options, [&](Delivery d) {
        std::lock_guard lock(m);
        if (done) return;
        Writer w;
        w.U8(1);
        w.Msg(d.message);
        if (!WriteFrame(fd, w.Frame()).ok() || (*count != 0 && ++sent >= *count)) {
          done = true;
          done_cv.notify_all();
        }
      });
      PutStatus(out, sub.ok() ? Status::Ok() : Status(sub.error()));
      {
        std::lock_guard lock(m);
        if (!WriteFrame(fd, out.Frame()).ok() || !sub.ok()) return;
      }
      // Wait for the count, or for the client to hang up (recv returns 0),
      // or for Stop (shutdown makes recv return).
      std::thread watcher([&] {
        char byte;
        while (::recv(fd, &byte, 1, 0) > 0) {
        }
        std::lock_guard lock(m);
        done = true;
        done_cv.notify_all();
      });
      {
        std::unique_lock lock(m);
        done_cv.wait(lock, [&] { return done; });
      }
      sub->reset();
      Writer end;
      end.U8(0);
      (void)WriteFrame(fd, end.Frame());
      ::shutdown(fd, SHUT_RDWR);
      watcher.join();
      return;
    }
    default:
      PutStatus(out, Error::InvalidArgument("unknown control operation"));
      (void)WriteFrame(fd, out.Frame());
  }
}

}  // namespace ferry
