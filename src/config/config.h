// ferry.toml, parsed and validated into plain structs (ferry/config.h). Nothing here knows
// about wasm or brokers; the runtime turns these into live objects.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/config.h"
#include "ferry/result.h"

namespace ferry::config {

// Parses `text`; relative paths resolve against `base_dir`. Errors name the
// offending key, e.g. "component[1].workers: expected a positive integer".
Result<Config> ParseConfig(std::string_view text, const std::filesystem::path& base_dir);
// Reads and parses a file; errors start with the file name.
Result<Config> LoadConfig(const std::filesystem::path& path);
// Checks a configuration built in code by the rules ParseConfig applies, and
// fills in what the file format defaults (see Config in ferry/config.h).
// Errors name the field, e.g. "component[0].broker: no broker named \"x\"".
Result<Config> CompleteConfig(Config config);
// [gateway] of a configuration built in code, by the rules of its parser
// (part of CompleteConfig).
Status CheckGateway(const Config& config);
// An allow_http pattern: "*", "host:port", "host:*" or "*.domain:port".
Status ValidateHttpGrant(std::string_view pattern);

}  // namespace ferry::config

namespace ferry::config {

// The configuration `ferry run x.wasm --subscribe t [--broker URL]` implies:
// one component named after the file, on the broker at `broker_url` (empty:
// the embedded one).
Result<Config> SingleComponentConfig(const std::filesystem::path& component,
                                     const std::vector<std::string>& subscriptions,
                                     const std::string& broker_url = "");

}  // namespace ferry::config
