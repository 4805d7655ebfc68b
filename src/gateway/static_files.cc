#include "gateway/static_files.h"

#include <fstream>
#include <sstream>
#include <system_error>

namespace ferry::gateway {
namespace {

constexpr std::uintmax_t kMaxFileBytes = 64u << 20;

HttpReply NotFound() { return {404, "text/plain; charset=utf-8", "not found\n"}; }

std::string_view ContentType(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".wasm") return "application/wasm";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a path; false on a broken escape.
bool Decode(std::string_view in, std::string& out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || Hex(in[i + 1]) < 0 || Hex(in[i + 2]) < 0) return false;
    out += static_cast<char>(Hex(in[i + 1]) * 16 + Hex(in[i + 2]));
    i += 2;
  }
  return true;
}

// Whether `inner` (canonical) lies inside `outer` (canonical).
bool Within(const std::filesystem::path& outer, const std::filesystem::path& inner) {
  auto o = outer.begin(), i = inner.begin();
  for (; o != outer.end(); ++o, ++i)
    if (i == inner.end() || *o != *i) return false;
  return true;
}

}  // namespace

HttpReply ServeGet(const std::filesystem::path& static_dir, std::string_view target) {
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path == "/ferry-client.js")
    return {200, "text/javascript; charset=utf-8", std::string(FerryClientJs())};
  if (static_dir.empty() || !path.starts_with('/')) return NotFound();
  std::string decoded;
  if (!Decode(path.substr(1), decoded)) return NotFound();
  if (decoded.find('\0') != std::string::npos || decoded.find('\\') != std::string::npos)
    return NotFound();
  std::filesystem::path relative;
  std::size_t start = 0;
  while (start <= decoded.size()) {
    const std::size_t slash = decoded.find('/', start);
    const std::string segment = decoded.substr(start, slash - start);
    if (segment == "..") return NotFound();
    if (!segment.empty() && segment != ".") relative /= segment;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::error_code ec;
  const std::filesystem::path root = std::filesystem::canonical(static_dir, ec);
  if (ec) return NotFound();
  std::filesystem::path file = root / relative;
  if (std::filesystem::is_directory(file, ec)) file /= "index.html";
  // Resolves symlinks, so one pointing out of the folder is caught here.
  file = std::filesystem::canonical(file, ec);
  if (ec || !Within(root, file) || !std::filesystem::is_regular_file(file, ec)) return NotFound();
  if (std::filesystem::file_size(file, ec) > kMaxFileBytes || ec)
    return {413, "text/plain; charset=utf-8", "file too large to serve\n"};
  std::ifstream in(file, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  if (!in && !in.eof()) return NotFound();
  return {200, std::string(ContentType(file)), body.str()};
}

}  // namespace ferry::gateway
