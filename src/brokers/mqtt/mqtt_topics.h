// Ferry topics and MQTT topic names, both ways, and the reply addresses the
// MQTT adapter hands to Ferry.
//
//   Ferry        MQTT
//   a.b.c        a/b/c      '.' separates levels
//   a.*.c        a/+/c      one level
//   a.>          a/#        the rest (at least one level in Ferry, any in MQTT)
//   a.b%2Ec      a/b.c      %XX in a Ferry token is the byte XX in MQTT
//   %00.a        /a         the token %00 is an empty MQTT level
//
// Ferry -> MQTT: a token containing '/', '+' or '#' (also once %-decoded) has
// no MQTT form and is refused, as is a topic whose first level starts with
// '$' (MQTT reserves those for the server; a pattern may read them, e.g.
// "$SYS.>") and a pattern whose first level is "$share" (use a queue group).
//
// MQTT -> Ferry: every MQTT topic name has a Ferry form. Bytes Ferry cannot
// carry inside a token ('.', '%', '*', '>', whitespace, control bytes) are
// written %XX and an empty level is %00, so the Ferry form maps back to the
// same MQTT topic: a reply or a publish to it reaches the original.
#pragma once

#include <string>
#include <string_view>

#include "ferry/result.h"

namespace ferry::mqtt {

// A concrete Ferry topic as an MQTT topic name.
Result<std::string> ToMqttTopic(std::string_view topic);
// A Ferry pattern as an MQTT topic filter.
Result<std::string> ToMqttFilter(std::string_view pattern);
// An MQTT topic name as a Ferry topic (always a valid one, if not over-long).
std::string FromMqttTopic(std::string_view topic);

// A queue group as the <group> of "$share/<group>/<filter>".
Status ValidateShareGroup(std::string_view group);

// Reply addresses. An MQTT request carries a response topic and may carry
// correlation data, which the reply has to echo; Ferry hands both to the
// handler as one reply_to string, "<Ferry form of the response topic>" or
// "<Ferry form>#<correlation data in hex>" ('#' never occurs in a topic that
// has an MQTT form, so the split is unambiguous).
std::string ReplyAddress(std::string_view response_topic, std::string_view correlation);
struct Destination {
  std::string topic;        // MQTT topic name
  std::string correlation;  // bytes; empty when none
};
// Parses a topic given to Publish: a Ferry topic, or a reply address.
Result<Destination> ParseDestination(std::string_view topic);

}  // namespace ferry::mqtt
