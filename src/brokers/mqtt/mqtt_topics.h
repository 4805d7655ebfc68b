// Ferry topics and MQTT topic names, both ways.
//
//   Ferry        MQTT
//   a.b.c        a/b/c      '.' separates levels
//   a.*.c        a/+/c      one level
//   a.>          a/#        the rest (at least one level in Ferry, any in MQTT)
//
// A Ferry token containing '/', '+' or '#' has no MQTT form and is refused.
// An MQTT level containing '.' reaches Ferry with the '.' as is, so it reads
// as two tokens; an empty MQTT level (a//b, /a) gives an empty Ferry token.
#pragma once

#include <string>
#include <string_view>

#include "ferry/result.h"

namespace ferry::mqtt {

// A concrete Ferry topic as an MQTT topic name.
Result<std::string> ToMqttTopic(std::string_view topic);
// A Ferry pattern as an MQTT topic filter.
Result<std::string> ToMqttFilter(std::string_view pattern);
// An MQTT topic name as a Ferry topic.
std::string FromMqttTopic(std::string_view topic);

}  // namespace ferry::mqtt
