#include "runtime/control_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry::control {
namespace {

// Every socket error becomes a Connection error here and nowhere else.
Error SocketError(std::string_view what, int err) {
  return Error::Connection("control socket " + std::string(what) + ": " + std::strerror(err));
}

Status WriteAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);  // a gone peer is an error, not SIGPIPE
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return SocketError("write", errno);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return Status::Ok();
}

Status ReadAll(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Error::Connection("control socket closed by the other side");
    if (r < 0) return SocketError("read", errno);
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

Error Truncated() { return Error::InvalidArgument("malformed control frame: truncated"); }

}  // namespace

void Writer::U32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out_.push_back(static_cast<char>((v >> shift) & 0xff));
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
  for (const auto& [key, value] : m.metadata) {
    Str(key);
    Str(value);
  }
  Str(m.reply_to);
}

void Writer::Outcome(const Status& status) {
  if (status.ok()) {
    U8(0);
    Str("");
    return;
  }
  U8(static_cast<std::uint8_t>(static_cast<int>(status.error().code()) + 1));
  Str(status.error().message());
}

std::string Writer::Frame() const {
  Writer prefix;
  prefix.U32(static_cast<std::uint32_t>(out_.size()));
  return prefix.out_ + out_;
}

Result<std::string_view> Reader::Take(std::size_t n) {
  if (n > in_.size() - pos_) return Truncated();
  std::string_view bytes = in_.substr(pos_, n);
  pos_ += n;
  return bytes;
}

Result<std::uint8_t> Reader::U8() {
  auto b = Take(1);
  if (!b.ok()) return b.error();
  return static_cast<std::uint8_t>((*b)[0]);
}

Result<std::uint32_t> Reader::U32() {
  auto b = Take(4);
  if (!b.ok()) return b.error();
  std::uint32_t v = 0;
  for (char c : *b) v = (v << 8) | static_cast<std::uint8_t>(c);
  return v;
}

Result<std::string> Reader::Str() {
  auto n = U32();
  if (!n.ok()) return n.error();
  auto b = Take(*n);
  if (!b.ok()) return b.error();
  return std::string(*b);
}

Result<Message> Reader::Msg() {
  Message m;
  auto topic = Str();
  if (!topic.ok()) return topic.error();
  m.topic = std::move(*topic);
  // The payload goes straight from the frame into its shared buffer.
  auto data_size = U32();
  if (!data_size.ok()) return data_size.error();
  auto data = Take(*data_size);
  if (!data.ok()) return data.error();
  m.data = Bytes::FromString(*data);
  auto has_type = U8();
  if (!has_type.ok()) return has_type.error();
  if (*has_type > 1)
    return Error::InvalidArgument("malformed control frame: bad content-type flag");
  if (*has_type == 1) {
    auto type = Str();
    if (!type.ok()) return type.error();
    m.content_type = std::move(*type);
  }
  auto n = U32();
  if (!n.ok()) return n.error();
  // Each entry takes at least 8 bytes, so a huge count fails fast below.
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto key = Str();
    if (!key.ok()) return key.error();
    auto value = Str();
    if (!value.ok()) return value.error();
    m.metadata.Set(std::move(*key), std::move(*value));
  }
  auto reply_to = Str();
  if (!reply_to.ok()) return reply_to.error();
  m.reply_to = std::move(*reply_to);
  return m;
}

Status Reader::Outcome() {
  auto code = U8();
  if (!code.ok()) return code.error();
  auto text = Str();
  if (!text.ok()) return text.error();
  if (*code == 0) return Status::Ok();
  // A code from a newer ferry that this one does not know.
  if (*code > static_cast<int>(ErrorCode::kInternal) + 1) return Error::Internal(*text);
  return Error(static_cast<ErrorCode>(*code - 1), *text);
}

Status Reader::End() const {
  if (pos_ == in_.size()) return Status::Ok();
  return Error::InvalidArgument("malformed control frame: " + std::to_string(in_.size() - pos_) +
                                " unexpected trailing bytes");
}

std::string EncodeRequest(const Request& request) {
  Writer w;
  w.U8(kVersion);
  w.U8(request.op);
  w.Str(request.broker);
  switch (request.op) {
    case kPublish:
      w.Msg(request.message);
      break;
    case kRequest:
      w.Msg(request.message);
      w.U32(request.timeout_ms);
      w.U32(request.expected_replies);
      break;
    case kSubscribe:
      w.Str(request.pattern);
      w.U32(request.count);
      break;
    case kStatus:
    case kPublishStream:
      break;
  }
  return w.Frame();
}

std::string EncodeStreamMessage(const Message& message) {
  Writer w;
  w.Msg(message);
  return w.Frame();
}

Result<Message> DecodeStreamMessage(std::string_view body) {
  Reader r(body);
  auto message = r.Msg();
  if (!message.ok()) return message.error();
  FERRY_RETURN_IF_ERROR(r.End());
  return message;
}

Result<Request> DecodeRequest(std::string_view body) {
  Reader r(body);
  auto version = r.U8();
  if (!version.ok()) return version.error();
  if (*version != kVersion)
    return Error::InvalidArgument("control protocol version " + std::to_string(*version) +
                                  " is not spoken here (this ferry speaks version " +
                                  std::to_string(kVersion) + ")");
  auto op = r.U8();
  if (!op.ok()) return op.error();
  auto broker = r.Str();
  if (!broker.ok()) return broker.error();
  Request request;
  request.broker = std::move(*broker);
  switch (*op) {
    case kPublish:
    case kRequest: {
      request.op = static_cast<Op>(*op);
      auto message = r.Msg();
      if (!message.ok()) return message.error();
      request.message = std::move(*message);
      if (*op == kPublish) break;
      auto timeout = r.U32();
      if (!timeout.ok()) return timeout.error();
      auto expected = r.U32();
      if (!expected.ok()) return expected.error();
      request.timeout_ms = *timeout;
      request.expected_replies = *expected;
      break;
    }
    case kSubscribe: {
      request.op = kSubscribe;
      auto pattern = r.Str();
      if (!pattern.ok()) return pattern.error();
      auto count = r.U32();
      if (!count.ok()) return count.error();
      request.pattern = std::move(*pattern);
      request.count = *count;
      break;
    }
    case kStatus:
    case kPublishStream:
      request.op = static_cast<Op>(*op);
      break;
    default:
      return Error::InvalidArgument("unknown control operation " + std::to_string(*op));
  }
  FERRY_RETURN_IF_ERROR(r.End());
  return request;
}

Status WriteFrame(int fd, const std::string& frame) {
  return WriteAll(fd, frame.data(), frame.size());
}

Result<std::string> ReadFrame(int fd) {
  char header[4];
  FERRY_RETURN_IF_ERROR(ReadAll(fd, header, sizeof(header)));
  const std::uint32_t n = *Reader(std::string_view(header, sizeof(header))).U32();
  if (n > kMaxFrame)
    return Error::ResourceExhausted("control frame of " + std::to_string(n) +
                                    " bytes is over the limit of " + std::to_string(kMaxFrame));
  // Grown as bytes arrive, so a length alone does not reserve 64 MiB.
  constexpr std::size_t kChunk = 1u << 20;
  std::string body;
  while (body.size() < n) {
    const std::size_t at = body.size();
    const std::size_t step = std::min<std::size_t>(kChunk, n - at);
    body.resize(at + step);
    FERRY_RETURN_IF_ERROR(ReadAll(fd, body.data() + at, step));
  }
  return body;
}

Result<sockaddr_un> SocketAddress(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.empty()) return Error::InvalidArgument("control socket path is empty");
  if (s.size() >= sizeof(addr.sun_path))
    return Error::InvalidArgument("control socket path is longer than " +
                                  std::to_string(sizeof(addr.sun_path) - 1) + " bytes: " + s);
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

}  // namespace ferry::control
