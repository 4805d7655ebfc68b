// A WebSocket client for the gateway's tests (Boost.Beast, hidden in the
// .cc so the tests compile fast). Every call waits at most its timeout.
// Not thread-safe: one client is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/result.h"
#include "gateway/wire.h"

namespace ferry::testing {

struct WsOptions {
  std::optional<std::string> origin;  // the Origin header, if any
  std::optional<std::string> bearer;  // Authorization: Bearer <this>
  std::string target = "/";           // e.g. "/?access_token=x"
  bool tls = false;                   // wss, certificate not verified
  std::chrono::milliseconds timeout{10000};
};

class WsClient {
 public:
  // Connects to 127.0.0.1:port. A refused upgrade is FailedPrecondition
  // whose message starts with the HTTP status: "401 ...".
  static Result<std::unique_ptr<WsClient>> Connect(std::uint16_t port, const WsOptions& options = {});
  virtual ~WsClient() = default;

  virtual Status SendBinary(std::string_view frame) = 0;
  virtual Status SendText(std::string_view text) = 0;
  // Reads one message. When the gateway closed the connection: Connection
  // error, and close_code() says with what (0: no close frame).
  virtual Result<std::string> Read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) = 0;
  // The next frame: one AnswerTo set aside, else Read + DecodeServerFrame.
  Result<gateway::ServerFrame> Next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The first frame answering `id` (ack, error or replies); frames read on
  // the way are set aside: for Next, in order, and for later AnswerTo calls.
  Result<gateway::ServerFrame> AnswerTo(std::uint32_t id,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
  virtual int close_code() const = 0;
  virtual void Close() = 0;

 private:
  std::deque<gateway::ServerFrame> set_aside_;
};

struct HttpResult {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};
// GET http://127.0.0.1:port<target>, the target sent as is.
Result<HttpResult> HttpGet(std::uint16_t port, const std::string& target);

// The VmRSS of this process, in KiB (from /proc/self/status).
std::uint64_t ResidentKiB();

}  // namespace ferry::testing
