// What the Redis adapter puts on the wire and how it talks to the server:
// a connection with binary-safe commands, the pub/sub envelope, stream
// fields, and Ferry patterns as Redis glob patterns.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::redis {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user, password;  // AUTH (user only with Redis 6 ACLs)
  int db = 0;
  std::chrono::milliseconds connect_timeout{2000};
};

// One hiredis connection. Not thread-safe: one thread at a time.
class Connection {
 public:
  // Connects, authenticates and selects the database.
  static Result<std::unique_ptr<Connection>> Open(const Endpoint& endpoint, std::string_view display);
  ~Connection();

  // Sends a command whose arguments may hold any bytes; a Redis error reply
  // comes back as an Error, a broken link as a Connection error.
  Result<Reply> Command(const std::vector<std::string>& args);
  // Sends every command of `commands` before reading any reply (one write,
  // one round trip), then reads their replies in order: one result each.
  // Once the link breaks, the rest are Connection errors.
  std::vector<Result<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // Reads the next reply (pub/sub pushes); blocks.
  Result<Reply> Next();
  // Bounds each later command: a server that does not answer within
  // `limit` breaks the connection (a Connection error naming the wait).
  // Zero waits forever (pub/sub readers, which wait for messages).
  void SetTimeout(std::chrono::milliseconds limit);
  // Makes a blocked Next() return (from another thread).
  void Interrupt();
  bool broken() const { return broken_; }
  // True when the server closed the link while we were not looking: on a
  // connection that owes us no reply, anything readable is the end of it.
  // Lets the first command after a server restart go to a fresh connection
  // instead of failing on the dead one.
  bool Stale() const;

 private:
  explicit Connection(redisContext* ctx, std::string display) : ctx_(ctx), display_(std::move(display)) {}
  Error LinkError(std::string_view what);

  redisContext* ctx_;
  std::string display_;
  bool broken_ = false;
  std::chrono::milliseconds timeout_{0};
};

// Pub/sub payloads carry metadata, content type and reply address in a small
// versioned envelope:
//   "\0FERRY\1" | u32 field count | (u32 len, key, u32 len, value)... | data
// (lengths big-endian). Keys: "m:<name>" metadata, "content-type",
// "reply-to". A payload without the magic (redis-cli, other programs) is
// plain data.
std::string Encode(const Message& message);
Message Decode(std::string_view topic, std::string_view payload);

// Stream entries: field "data" holds the payload; "content-type",
// "reply-to" and "m:<name>" the rest.
std::vector<std::string> StreamFields(const Message& message);
Message FromStreamFields(std::string_view topic, const redisReply* fields);

// A Ferry pattern as a Redis glob. Redis's '*' also matches dots, so what a
// glob delivers must still pass TopicMatches.
std::string ToGlob(std::string_view pattern);

}  // namespace ferry::redis
