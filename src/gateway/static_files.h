// What the gateway answers to plain HTTP GETs: its own JavaScript client at
// /ferry-client.js, and files under [gateway].static. No Beast here.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ferry::gateway {

struct HttpReply {
  unsigned status = 200;
  std::string content_type;
  std::string body;
};

// The client's source, embedded by the build from src/gateway/client/ferry-client.js.
std::string_view FerryClientJs();

// Answers GET `target` ("/index.html?x=1"): "/ferry-client.js" is the
// client; other paths are files under `static_dir` ("/" is index.html),
// never outside it: ".." segments, backslashes, NULs and symlinks leading
// out are refused (404, as if absent). Empty `static_dir`: only the client.
HttpReply ServeGet(const std::filesystem::path& static_dir, std::string_view target);

}  // namespace ferry::gateway
