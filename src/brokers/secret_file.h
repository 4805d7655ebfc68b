// Secrets (passwords, tokens) kept in files of their own, so that neither
// ferry.toml nor the command line holds them: a `[brokers]` entry names the
// file with `password_file` (NATS also `token_file`).
#pragma once

#include <string>
#include <string_view>

#include "ferry/result.h"

namespace ferry {

// The file's content without its trailing line break. Errors name the
// setting and the path, never the content: an unreadable or empty file is
// InvalidArgument.
[[nodiscard]] Result<std::string> ReadSecretFile(std::string_view setting, const std::string& path);

}  // namespace ferry
