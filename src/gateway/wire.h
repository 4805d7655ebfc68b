// The gateway's framing: one binary WebSocket message is one frame.
// Version 1, big-endian, described for client authors in docs/GATEWAY.md:
//
//   frame    = version:u8 (1) op:u8 id:u32 body
//   str      = len:u16 bytes (UTF-8)
//   message  = topic:str content_type:str (empty: none) reply_to:str
//              count:u16 (key:str value:str)*count data_len:u32 data
//
//   client → gateway                    gateway → client
//   0x01 publish   message              0x81 ack        (empty)
//   0x02 subscribe pattern:str          0x82 error      code:u8 text:str
//   0x03 unsubscribe (id = subscribe's) 0x83 message    message (id = subscribe's)
//   0x04 request   timeout_ms:u32       0x84 replies    count:u32 message*count
//                  expected:u32 message
//
// Every client frame is answered with ack, error or replies carrying its
// id; a subscription's messages carry the subscribe frame's id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::gateway {

inline constexpr std::uint8_t kWireVersion = 1;

enum class Op : std::uint8_t {
  kPublish = 0x01,
  kSubscribe = 0x02,
  kUnsubscribe = 0x03,
  kRequest = 0x04,
  kAck = 0x81,
  kError = 0x82,
  kMessage = 0x83,
  kReplies = 0x84,
};

// WebSocket close codes the gateway sends besides the standard ones
// (1002 protocol error, 1003 text frame, 1009 too big, 1001 going away).
inline constexpr std::uint16_t kCloseSlowConsumer = 4008;  // its send buffer overflowed

// A frame from a client, decoded.
struct ClientFrame {
  Op op = Op::kPublish;
  std::uint32_t id = 0;
  Message message;             // publish, request
  std::string pattern;         // subscribe
  std::uint32_t timeout_ms = 0;        // request; 0: the gateway's bound
  std::uint32_t expected_replies = 1;  // request
};

// Checks structure only (lengths, version, op); topics and grants are the
// caller's. Errors are InvalidArgument with a one-line reason.
Result<ClientFrame> DecodeClientFrame(std::string_view bytes);

std::string EncodeAck(std::uint32_t id);
std::string EncodeError(std::uint32_t id, const Error& error);
std::string EncodeMessage(std::uint32_t id, const Message& message);
std::string EncodeReplies(std::uint32_t id, const std::vector<Message>& replies);

// What clients send; the gateway's tests and any C++ client use these.
std::string EncodePublish(std::uint32_t id, const Message& message);
std::string EncodeSubscribe(std::uint32_t id, std::string_view pattern);
std::string EncodeUnsubscribe(std::uint32_t id);
std::string EncodeRequest(std::uint32_t id, const Message& message, std::uint32_t timeout_ms,
                          std::uint32_t expected_replies);

// A frame from the gateway, decoded (for clients and tests).
struct ServerFrame {
  Op op = Op::kAck;
  std::uint32_t id = 0;
  std::uint8_t error_code = 0;  // error: an ErrorCode
  std::string error_text;       // error
  std::vector<Message> messages;  // message: one; replies: all
};
Result<ServerFrame> DecodeServerFrame(std::string_view bytes);

}  // namespace ferry::gateway
