#include "brokers/mqtt/mqtt_topics.h"

#include <fmt/format.h>

#include "core/topic.h"

namespace ferry::mqtt {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences to bytes; a '%' not followed by two hex digits stays.
std::string Decode(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '%' && i + 2 < token.size()) {
      const int hi = HexValue(token[i + 1]), lo = HexValue(token[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += token[i];
  }
  return out;
}

Result<std::string> Map(std::string_view s, bool pattern) {
  FERRY_RETURN_IF_ERROR(pattern ? ValidatePattern(s) : ValidateTopic(s));
  const char* what = pattern ? "pattern" : "topic";
  auto bad = [&](const std::string& why) {
    return Error::InvalidArgument(fmt::format("{} '{}' {}", what, s, why));
  };
  std::string out;
  out.reserve(s.size());
  std::size_t start = 0;
  bool first = true;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view token =
        s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!first) out += '/';
    if (pattern && token == "*") {
      out += '+';
    } else if (pattern && token == ">") {
      out += '#';
    } else {
      if (token.find_first_of("/+#") != std::string_view::npos)
        return bad("has a token with '/', '+' or '#', which MQTT reserves");
      std::string level = Decode(token);
      if (level == std::string_view("\0", 1)) level.clear();  // %00: an empty level
      if (level.find_first_of(std::string_view("/+#\0", 4)) != std::string::npos)
        return bad("has a %-escape for '/', '+', '#' or NUL, which an MQTT level cannot hold");
      if (first && level.starts_with('$')) {
        if (!pattern) return bad("starts with '$', which MQTT reserves for the server");
        if (level == "$share") return bad("starts with $share: subscribe with a queue group");
      }
      out += level;
    }
    first = false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

// Bytes a Ferry token cannot hold as they are.
bool NeedsEscape(unsigned char c) {
  return c == '.' || c == '%' || c == '*' || c == '>' || c <= 0x20 || c == 0x7f;
}

}  // namespace

Result<std::string> ToMqttTopic(std::string_view topic) { return Map(topic, false); }
Result<std::string> ToMqttFilter(std::string_view pattern) { return Map(pattern, true); }

std::string FromMqttTopic(std::string_view topic) {
  std::string out;
  out.reserve(topic.size() + 8);
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = topic.find('/', start);
    const std::string_view level =
        topic.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (start > 0) out += '.';
    if (level.empty()) out += "%00";
    for (char c : level) {
      if (NeedsEscape(static_cast<unsigned char>(c)))
        out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
      else
        out += c;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

Status ValidateShareGroup(std::string_view group) {
  if (group.find_first_of(std::string_view("/+#\0", 4)) != std::string_view::npos)
    return Error::InvalidArgument(fmt::format(
        "queue group '{}' contains '/', '+' or '#', which an MQTT shared subscription cannot hold",
        group));
  return Status::Ok();
}

std::string ReplyAddress(std::string_view response_topic, std::string_view correlation) {
  std::string out = FromMqttTopic(response_topic);
  if (correlation.empty()) return out;
  out += '#';
  for (char c : correlation) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

Result<Destination> ParseDestination(std::string_view topic) {
  Destination d;
  const std::size_t hash = topic.find('#');
  if (hash != std::string_view::npos && topic.find('.', hash) == std::string_view::npos) {
    const std::string_view hex = topic.substr(hash + 1);
    bool is_hex = !hex.empty() && hex.size() % 2 == 0;
    for (char c : hex) is_hex = is_hex && HexValue(c) >= 0;
    if (is_hex) {
      for (std::size_t i = 0; i < hex.size(); i += 2)
        d.correlation += static_cast<char>(HexValue(hex[i]) * 16 + HexValue(hex[i + 1]));
      topic = topic.substr(0, hash);
    }
  }
  auto mapped = ToMqttTopic(topic);
  if (!mapped.ok()) return mapped.error();
  d.topic = std::move(*mapped);
  return d;
}

}  // namespace ferry::mqtt
