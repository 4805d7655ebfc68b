// How `ferry subscribe` and `ferry request` write the messages they get.
#pragma once

#include <cstdio>
#include <string>

#include "ferry/message.h"

namespace ferry::cli {

enum class OutputFormat {
  kText,  // "topic [content-type] body", then "  key: value" lines; a body
          // that is not printable UTF-8 is shown as "base64:<...>"
  kRaw,   // the body's bytes exactly, nothing before or after
  kJson,  // one JSON object per line: topic, content_type, metadata
          // (a list of [key, value] pairs: keys may repeat), and either
          // "data" (UTF-8 text) or "data_base64"
};

// Writes `m` to `out` in `format` and flushes.
void WriteMessage(std::FILE* out, const Message& m, OutputFormat format);

// True when `bytes` is valid UTF-8.
bool IsUtf8(std::string_view bytes);

// Standard base64 of `bytes`.
std::string Base64(std::string_view bytes);

}  // namespace ferry::cli
