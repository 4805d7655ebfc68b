// The [gateway] section of ferry.toml (config.h's GatewayConfig), parsed
// apart from the rest so that the section stays in one place.
#pragma once

#include <filesystem>
#include <string>

#include <toml++/toml.h>

#include "config/config.h"

namespace ferry::config {

// Reads root["gateway"] into config.gateway; brokers must be parsed
// already. Errors are one line: "ferry.toml:12: gateway.websocket: ...".
Status ParseGateway(const toml::table& root, const std::string& file,
                    const std::filesystem::path& base_dir, Config& config);

}  // namespace ferry::config
