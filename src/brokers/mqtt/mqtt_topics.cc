#include "brokers/mqtt/mqtt_topics.h"

#include <algorithm>

#include "core/topic.h"

namespace ferry::mqtt {
namespace {

Result<std::string> Map(std::string_view s, bool pattern) {
  FERRY_RETURN_IF_ERROR(pattern ? ValidatePattern(s) : ValidateTopic(s));
  std::string out;
  out.reserve(s.size());
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    std::string_view token = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (token.find_first_of("/+#") != std::string_view::npos)
      return Error::InvalidArgument(std::string(pattern ? "pattern" : "topic") + " '" +
                                    std::string(s) +
                                    "' has a token with '/', '+' or '#', which MQTT reserves");
    if (!out.empty() || start > 0) out += '/';
    if (token == "*") out += '+';
    else if (token == ">") out += '#';
    else out += token;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

}  // namespace

Result<std::string> ToMqttTopic(std::string_view topic) { return Map(topic, false); }
Result<std::string> ToMqttFilter(std::string_view pattern) { return Map(pattern, true); }

std::string FromMqttTopic(std::string_view topic) {
  std::string out(topic);
  std::replace(out.begin(), out.end(), '/', '.');
  return out;
}

}  // namespace ferry::mqtt
