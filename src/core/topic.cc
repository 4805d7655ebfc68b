#include "core/topic.h"

#include <string>

namespace ferry {
namespace {

constexpr std::size_t kMaxTopicLength = 1024;

Status Validate(std::string_view s, bool allow_wildcards, const char* what) {
  if (s.empty()) return Error::InvalidArgument(std::string(what) + " is empty");
  if (s.size() > kMaxTopicLength)
    return Error::InvalidArgument(std::string(what) + " is longer than 1024 bytes");
  auto bad = [&](const char* why) {
    return Error::InvalidArgument(std::string(what) + " '" + std::string(s) + "' " + why);
  };
  // One pass over the characters (every send checks its topic): a token's
  // wildcard rules are checked where it ends, at a dot or the end.
  std::size_t token_start = 0;
  bool wildcard = false;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    const char c = i < s.size() ? s[i] : '.';
    if (c == '.') {
      const std::size_t length = i - token_start;
      if (length == 0) return bad("has an empty token");
      if (wildcard) {
        if (!allow_wildcards) return bad("contains a wildcard");
        if (length != 1) return bad("mixes a wildcard with other characters");
        if (s[token_start] == '>' && i != s.size()) return bad("has '>' before the last token");
      }
      token_start = i + 1;
      wildcard = false;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0') {
      return bad("contains whitespace");
    } else if (c == '*' || c == '>') {
      wildcard = true;
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateTopic(std::string_view topic) { return Validate(topic, false, "topic"); }

Status ValidatePattern(std::string_view pattern) { return Validate(pattern, true, "pattern"); }

bool TopicMatches(std::string_view pattern, std::string_view topic) {
  std::size_t p = 0, t = 0;
  while (true) {
    const std::size_t pd = pattern.find('.', p);
    const std::size_t td = topic.find('.', t);
    const std::string_view ptok = pattern.substr(p, pd == std::string_view::npos ? pd : pd - p);
    const std::string_view ttok = topic.substr(t, td == std::string_view::npos ? td : td - t);
    if (ptok == ">") return true;  // at least one token remains: ttok
    if (ptok != "*" && ptok != ttok) return false;
    const bool pend = pd == std::string_view::npos, tend = td == std::string_view::npos;
    if (pend || tend) return pend && tend;
    p = pd + 1;
    t = td + 1;
  }
}

bool PatternCovers(std::string_view outer, std::string_view inner) {
  std::size_t o = 0, i = 0;
  while (true) {
    const std::size_t od = outer.find('.', o);
    const std::size_t id = inner.find('.', i);
    const std::string_view otok = outer.substr(o, od == std::string_view::npos ? od : od - o);
    const std::string_view itok = inner.substr(i, id == std::string_view::npos ? id : id - i);
    if (otok == ">") return true;           // covers one or more tokens, whatever they are
    if (itok == ">") return false;          // inner reaches further than a single token
    if (otok != "*" && otok != itok) return false;  // '*' covers a literal or '*'
    const bool oend = od == std::string_view::npos, iend = id == std::string_view::npos;
    if (oend || iend) return oend && iend;
    o = od + 1;
    i = id + 1;
  }
}

}  // namespace ferry
