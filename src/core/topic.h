// NATS-style topics: '.'-separated tokens; in patterns '*' matches exactly one
// token and '>' (last token only) matches one or more remaining tokens.
#pragma once

#include <string_view>

#include "ferry/result.h"

namespace ferry {

// A concrete topic to publish to: non-empty tokens, no wildcards, no spaces.
Status ValidateTopic(std::string_view topic);
// A subscription pattern: like a topic, but '*' tokens and a final '>' allowed.
Status ValidatePattern(std::string_view pattern);
// True when `topic` is matched by `pattern`. Both must be valid.
bool TopicMatches(std::string_view pattern, std::string_view topic);

// True when every topic `inner` matches is also matched by `outer`
// ("orders.>" covers "orders.*.eu"; "orders.*" does not cover "orders.>").
bool PatternCovers(std::string_view outer, std::string_view inner);

}  // namespace ferry
