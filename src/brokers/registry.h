// Makes a broker from its URL. Each adapter is one line in registry.cc;
// schemes registered with ScopedBrokerScheme (ferry/broker.h) come after.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "brokers/broker.h"

namespace ferry {

// `options` are the adapter settings from the config, as strings.
Result<std::unique_ptr<Broker>> MakeBroker(std::string_view url,
                                           const std::map<std::string, std::string>& options);

}  // namespace ferry
