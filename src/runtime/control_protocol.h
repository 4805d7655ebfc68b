// The control socket's wire format, shared by ControlServer and the client
// functions of ferry/control.h.
//
// Every frame is a 4-byte big-endian body length, then the body (at most
// kMaxFrame bytes). Inside a body, integers are big-endian, and `str` is a
// u32 length followed by that many bytes (any bytes: payloads are binary).
//
//   request  := version:u8 op:u8 broker:str body        (version = kVersion)
//     op 1 publish    body := message
//     op 2 request    body := message timeout_ms:u32 expected_replies:u32
//     op 3 subscribe  body := pattern:str count:u32     (count 0: no limit)
//     op 4 status     body := (empty; broker is ignored)
//     op 5 publish stream  body := (empty)
//   reply    := code:u8 text:str [payload]     code 0: ok; else ErrorCode + 1
//     request ok      payload := n:u32 message*n
//     subscribe ok    then one frame per message, `1:u8 message`, and a
//                     final `0:u8` frame once `count` messages were sent
//     status ok       payload := json:str  (what `ferry status --json` prints)
//     publish stream ok   then the client sends one frame per message,
//                     `message`, and the server answers each with a
//                     `reply` (no payload), in order, until the client
//                     closes; a malformed message frame gets an
//                     InvalidArgument reply and the connection is closed
//   message  := topic:str data:str has_type:u8 [type:str]
//               n:u32 (key:str value:str)*n reply_to:str
//
// One connection carries one request (a publish stream: many messages). A request that is not exactly this
// (short, trailing bytes, unknown version or op) gets an InvalidArgument
// reply; a length over kMaxFrame gets ResourceExhausted; then the server
// closes the connection.
#pragma once

#include <sys/un.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::control {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::uint32_t kMaxFrame = 64u << 20;

enum Op : std::uint8_t { kPublish = 1, kRequest = 2, kSubscribe = 3, kStatus = 4, kPublishStream = 5 };

// Builds one frame body field by field.
class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(std::uint32_t v);
  void Str(std::string_view s);
  void Msg(const Message& m);
  // A reply's status field: code and text.
  void Outcome(const Status& status);

  std::size_t size() const { return out_.size(); }
  // The length prefix followed by the body.
  std::string Frame() const;

 private:
  std::string out_;
};

// Reads fields of a frame body in order. A read past the end fails with
// InvalidArgument and leaves nothing half-read that a caller could use.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  // Reads in place: the bytes must outlive the reader.
  explicit Reader(std::string&&) = delete;

  Result<std::uint8_t> U8();
  Result<std::uint32_t> U32();
  Result<std::string> Str();
  Result<Message> Msg();
  // The error a reply's status field carries, or Ok; a malformed field is
  // an error too.
  Status Outcome();
  // Fails unless every byte was read: trailing garbage is malformed too.
  Status End() const;

 private:
  Result<std::string_view> Take(std::size_t n);

  std::string_view in_;
  std::size_t pos_ = 0;
};

// One request as the client sends it; which fields count depends on `op`.
struct Request {
  Op op = kPublish;
  std::string broker = "default";
  Message message;                     // publish, request
  std::uint32_t timeout_ms = 0;        // request
  std::uint32_t expected_replies = 1;  // request
  std::string pattern;                 // subscribe
  std::uint32_t count = 0;             // subscribe
};

// The whole frame (length prefix included) of `request`.
std::string EncodeRequest(const Request& request);
// Checks a request body completely: version, op, every field, no trailing
// bytes. Errors are InvalidArgument, meant for the error reply.
Result<Request> DecodeRequest(std::string_view body);

// The frame of one message of a publish stream, and its decoding.
std::string EncodeStreamMessage(const Message& message);
Result<Message> DecodeStreamMessage(std::string_view body);

// Blocking frame I/O on a connected socket. Transport failures are
// Connection errors; a length over kMaxFrame is ResourceExhausted.
Status WriteFrame(int fd, const std::string& frame);
Result<std::string> ReadFrame(int fd);

// The socket address of `path`; fails when the path does not fit in one.
Result<sockaddr_un> SocketAddress(const std::filesystem::path& path);

}  // namespace ferry::control
