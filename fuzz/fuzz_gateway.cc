// The WebSocket gateway's input from browsers: anyone who can reach the
// port sends it bytes. The first input byte picks what reads the rest:
//   0  a client frame: decoded, or a one-line InvalidArgument; a decoded
//      frame encodes and decodes to itself
//   1  a server frame, as a client reads one
//   2  an HTTP GET target for static files: whatever it is, nothing
//      outside the served folder comes back
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "gateway/static_files.h"
#include "gateway/wire.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameMessage(const ferry::Message& a, const ferry::Message& b) {
  return a.topic == b.topic && a.data == b.data && a.content_type == b.content_type &&
         a.metadata == b.metadata && a.reply_to == b.reply_to;
}

std::string Reencode(const ferry::gateway::ClientFrame& f) {
  using ferry::gateway::Op;
  switch (f.op) {
    case Op::kPublish:
      return ferry::gateway::EncodePublish(f.id, f.message);
    case Op::kSubscribe:
      return ferry::gateway::EncodeSubscribe(f.id, f.pattern);
    case Op::kUnsubscribe:
      return ferry::gateway::EncodeUnsubscribe(f.id);
    default:
      return ferry::gateway::EncodeRequest(f.id, f.message, f.timeout_ms, f.expected_replies);
  }
}

// <tmp>/fuzz-gateway-<pid>/site/index.html and, beside site/, a secret.
const std::filesystem::path& Site() {
  static const std::filesystem::path site = [] {
    auto root = std::filesystem::temp_directory_path() / ("fuzz-gateway-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root / "site" / "sub");
    std::ofstream(root / "site" / "index.html") << "inside";
    std::ofstream(root / "secret.txt") << "SECRET";
    std::error_code exists;  // a second process run keeps the first link
    std::filesystem::create_symlink(root / "secret.txt", root / "site" / "sub" / "link", exists);
    return root / "site";
  }();
  return site;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto f = ferry::gateway::DecodeClientFrame(body);
      if (!f.ok()) {
        Check(f.error().message().find('\n') == std::string::npos);
        break;
      }
      auto again = ferry::gateway::DecodeClientFrame(Reencode(*f));
      Check(again.ok() && again->op == f->op && again->id == f->id && again->pattern == f->pattern &&
            again->timeout_ms == f->timeout_ms && again->expected_replies == f->expected_replies &&
            SameMessage(again->message, f->message));
      break;
    }
    case 1:
      (void)ferry::gateway::DecodeServerFrame(body);
      break;
    case 2: {
      auto reply = ferry::gateway::ServeGet(Site(), body);
      Check(reply.body.find("SECRET") == std::string::npos);
      break;
    }
  }
  return 0;
}
