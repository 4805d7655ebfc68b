// The native JetStream echo for ferry_broker_bench, on cnats with the
// guarantee Ferry's echo gives: each message of the stream on echo.in is
// acknowledged only once its copy on echo.out was stored (the stream's
// publish acknowledgement), with the copies published asynchronously
// (js_PublishMsgAsync), as Ferry's pipelined sends do.
#pragma once

#include <memory>
#include <string>

namespace ferry::bench {

class JetStreamNativeEcho {
 public:
  virtual ~JetStreamNativeEcho() = default;
};

// Reads stream `stream` (over echo.in, made by the caller) from new
// messages on, with explicit acks and at most `max_ack_pending` unacked.
std::unique_ptr<JetStreamNativeEcho> MakeJetStreamNativeEcho(const std::string& url,
                                                             const std::string& stream,
                                                             int max_ack_pending);

// Makes a file-backed stream `name` over `subject` (exits on failure).
void MakeJetStreamStream(const std::string& url, const std::string& name, const std::string& subject);

}  // namespace ferry::bench
