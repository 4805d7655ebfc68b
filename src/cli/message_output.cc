#include "cli/message_output.h"

#include <openssl/evp.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace ferry::cli {
namespace {

// Text a terminal shows as it is: UTF-8 with no control characters but
// tab and line breaks.
bool Printable(std::string_view bytes) {
  const bool plain = std::none_of(bytes.begin(), bytes.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return (b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f;
  });
  return plain && IsUtf8(bytes);
}

}  // namespace

bool IsUtf8(std::string_view bytes) {
  try {
    (void)nlohmann::json(std::string(bytes)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;  // 316: invalid UTF-8
  }
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

void WriteMessage(std::FILE* out, const Message& m, OutputFormat format) {
  const std::string_view body = m.data.view();
  switch (format) {
    case OutputFormat::kRaw:
      std::fwrite(body.data(), 1, body.size(), out);
      break;
    case OutputFormat::kJson: {
      nlohmann::json j;
      j["topic"] = m.topic;
      j["content_type"] = m.content_type ? nlohmann::json(*m.content_type) : nlohmann::json(nullptr);
      j["metadata"] = nlohmann::json::array();
      for (const auto& [k, v] : m.metadata) j["metadata"].push_back({k, v});
      if (IsUtf8(body)) j["data"] = std::string(body);
      else j["data_base64"] = Base64(body);
      // Keys and values from a broker may hold anything: never throw here.
      const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::fprintf(out, "%s\n", line.c_str());
      break;
    }
    case OutputFormat::kText: {
      std::fprintf(out, "%s", m.topic.c_str());
      if (m.content_type) std::fprintf(out, " [%s]", m.content_type->c_str());
      if (Printable(body))
        std::fprintf(out, " %.*s\n", static_cast<int>(body.size()), body.data());
      else
        std::fprintf(out, " base64:%s\n", Base64(body).c_str());
      for (const auto& [k, v] : m.metadata) std::fprintf(out, "  %s: %s\n", k.c_str(), v.c_str());
      break;
    }
  }
  std::fflush(out);
}

}  // namespace ferry::cli
