// The control socket's wire format. Every frame is a 4-byte big-endian length
// followed by that many bytes (at most kMaxFrame). Inside a frame, integers
// are big-endian, strings and byte strings are a u32 length plus bytes.
//
//   request  := op:u8 broker:str body
//     op 1 publish   body := message
//     op 2 request   body := message timeout_ms:u32 expected:u32
//     op 3 subscribe body := pattern:str count:u32
//   reply    := code:u8 text:str [payload]   code 0 = ok, else an ErrorCode + 1
//     request ok payload := n:u32 message*n
//     subscribe ok, then one frame per message: 1:u8 message; 0:u8 ends it
//   message  := topic:str data:str has_type:u8 [type:str] n:u32 (key:str value:str)*n reply_to:str
#pragma once

#include <sys/un.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::control {

inline constexpr std::uint32_t kMaxFrame = 64u << 20;

enum Op : std::uint8_t { kPublish = 1, kRequest = 2, kSubscribe = 3 };

class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(std::uint32_t v);
  void Str(std::string_view s);
  void Msg(const Message& m);
  std::string Frame() const;  // length prefix + body

 private:
  std::string out_;
};

// Reads fields in order; any read past the end fails the whole frame.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  Result<std::uint8_t> U8();
  Result<std::uint32_t> U32();
  Result<std::string> Str();
  Result<Message> Msg();
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

// Blocking frame I/O on a socket; errors are Connection errors.
Status WriteFrame(int fd, const std::string& frame);
Result<std::string> ReadFrame(int fd);

void PutStatus(Writer& writer, const Status& status);

// The socket address of `path`; fails when the path is too long for one.
Result<sockaddr_un> SocketAddress(const std::filesystem::path& path);
Status ReadStatus(Reader& reader);

}  // namespace ferry::control
