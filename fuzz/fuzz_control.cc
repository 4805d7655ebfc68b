// The control socket's decoder: any local process of the same user can send
// it bytes. The first input byte picks what reads the rest:
//   0  a request body, as the server decodes it: a Request or a one-line
//      InvalidArgument; a decoded request encodes and decodes to itself
//   1  a reply body, as the client reads one (status, replies, a streamed
//      message): values or errors, never a read past the end
//   2  raw bytes on a socket, framed by ReadFrame (length prefix, the
//      kMaxFrame cap), then decoded as a request
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/control_protocol.h"

namespace {

using ferry::control::Request;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckOneLine(const ferry::Error& e) { Check(e.message().find('\n') == std::string::npos); }

bool SameMessage(const ferry::Message& a, const ferry::Message& b) {
  return a.topic == b.topic && a.data == b.data && a.content_type == b.content_type &&
         a.metadata == b.metadata && a.reply_to == b.reply_to;
}

bool SameRequest(const Request& a, const Request& b) {
  if (a.op != b.op || a.broker != b.broker) return false;
  switch (a.op) {
    case ferry::control::kPublish:
      return SameMessage(a.message, b.message);
    case ferry::control::kRequest:
      return SameMessage(a.message, b.message) && a.timeout_ms == b.timeout_ms &&
             a.expected_replies == b.expected_replies;
    case ferry::control::kSubscribe:
      return a.pattern == b.pattern && a.count == b.count;
  }
  return false;
}

void DecodeRequestBody(std::string_view body) {
  auto request = ferry::control::DecodeRequest(body);
  if (!request.ok()) {
    Check(request.error().code() == ferry::ErrorCode::kInvalidArgument);
    return CheckOneLine(request.error());
  }
  const std::string frame = ferry::control::EncodeRequest(*request);
  auto again = ferry::control::DecodeRequest(std::string_view(frame).substr(4));
  Check(again.ok() && SameRequest(*request, *again));
}

void DecodeReplyBody(std::string_view body) {
  ferry::control::Reader request_reply(body);
  // An error reply's text is the host's to choose (a ferry's own are one
  // line), so only decoding is checked here, not what the text says.
  (void)request_reply.Outcome();
  if (auto n = request_reply.U32(); n.ok()) {
    for (std::uint32_t i = 0; i < *n; ++i)
      if (!request_reply.Msg().ok()) break;
  }
  (void)request_reply.End();

  ferry::control::Reader streamed(body);
  if (auto more = streamed.U8(); more.ok() && *more == 1) {
    auto m = streamed.Msg();
    if (!m.ok()) CheckOneLine(m.error());
  }
}

void ReadFramed(std::string_view bytes) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return;
  // Inputs (-max_len) fit in a socket buffer; anything larger is skipped.
  const bool sent = ::send(fds[0], bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
                    static_cast<ssize_t>(bytes.size());
  ::close(fds[0]);
  if (sent) {
    auto frame = ferry::control::ReadFrame(fds[1]);
    if (frame.ok()) {
      Check(frame->size() <= ferry::control::kMaxFrame);
      DecodeRequestBody(*frame);
    } else {
      CheckOneLine(frame.error());
    }
  }
  ::close(fds[1]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      DecodeRequestBody(rest);
      break;
    case 1:
      DecodeReplyBody(rest);
      break;
    case 2:
      ReadFramed(rest);
      break;
  }
  return 0;
}
