#include "runtime/control_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::control {

void Writer::U32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>((v >> shift) & 0xff));
}

void Writer::Str(std::string_view s) {
  U32(static_cast<std::uint32_t>(s.size()));
  out_.append(s);
}

void Writer::Msg(const Message& m) {
  Str(m.topic);
  Str(m.data.view());
  U8(m.content_type ? 1 : 0);
  if (m.content_type) Str(*m.content_type);
  U32(static_cast<std::uint32_t>(m.metadata.size()));
  for (const auto& [k, v] : m.metadata) {
    Str(k);
    Str(v);
  }
  Str(m.reply_to);
}

std::string Writer::Frame() const {
  Writer w;
  w.U32(static_cast<std::uint32_t>(out_.size()));
  return w.out_ + out_;
}

Result<std::uint8_t> Reader::U8() {
  if (pos_ + 1 > in_.size()) return Error::InvalidArgument("truncated control frame");
  return static_cast<std::uint8_t>(in_[pos_++]);
}

Result<std::uint32_t> Reader::U32() {
  if (pos_ + 4 > in_.size()) return Error::InvalidArgument("truncated control frame");
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in_[pos_++]);
  return v;
}

Result<std::string> Reader::Str() {
  auto n = U32();
  if (!n.ok()) return n.error();
  if (*n > in_.size() - pos_) return Error::InvalidArgument("truncated control frame");
  std::string s(in_.substr(pos_, *n));
  pos_ += *n;
  return s;
}

Result<Message> Reader::Msg() {
  Message m;
  auto topic = Str();
  if (!topic.ok()) return topic.error();
  m.topic = std::move(*topic);
  auto data = Str();
  if (!data.ok()) return data.error();
  m.data = Bytes::FromString(*data);
  auto has_type = U8();
  if (!has_type.ok()) return has_type.error();
  if (*has_type) {
    auto type = Str();
    if (!type.ok()) return type.error();
    m.content_type = std::move(*type);
  }
  auto n = U32();
  if (!n.ok()) return n.error();
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto k = Str();
    if (!k.ok()) return k.error();
    auto v = Str();
    if (!v.ok()) return v.error();
    m.metadata.Set(std::move(*k), std::move(*v));
  }
  auto reply_to = Str();
  if (!reply_to.ok()) return reply_to.error();
  m.reply_to = std::move(*reply_to);
  return m;
}

namespace {

Status WriteAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Error::Connection(std::string("control socket write: ") + std::strerror(errno));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return Status::Ok();
}

Status ReadAll(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Error::Connection("control socket closed");
    if (r < 0) return Error::Connection(std::string("control socket read: ") + std::strerror(errno));
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

}  // namespace

Status WriteFrame(int fd, const std::string& frame) { return WriteAll(fd, frame.data(), frame.size()); }

Result<std::string> ReadFrame(int fd) {
  char header[4];
  FERRY_RETURN_IF_ERROR(ReadAll(fd, header, 4));
  Reader r(std::string_view(header, 4));
  const std::uint32_t n = *r.U32();
  if (n > kMaxFrame)
    return Error::ResourceExhausted("control frame of " + std::to_string(n) + " bytes is over the limit");
  std::string body(n, '\0');
  FERRY_RETURN_IF_ERROR(ReadAll(fd, body.data(), n));
  return body;
}

Result<sockaddr_un> SocketAddress(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof(addr.sun_path))
    return Error::InvalidArgument("control socket path is too long: " + s);
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

void PutStatus(Writer& w, const Status& status) {
  if (status.ok()) {
    w.U8(0);
    w.Str("");
  } else {
    w.U8(static_cast<std::uint8_t>(static_cast<int>(status.error().code()) + 1));
    w.Str(status.error().message());
  }
}

Status ReadStatus(Reader& reader) {
  auto code = reader.U8();
  if (!code.ok()) return code.error();
  auto text = reader.Str();
  if (!text.ok()) return text.error();
  if (*code == 0) return Status::Ok();
  if (*code > static_cast<int>(ErrorCode::kInternal) + 1) return Error::Internal(*text);
  return Error(static_cast<ErrorCode>(*code - 1), *text);
}

}  // namespace ferry::control
