// Makes a broker from its URL. Each adapter is one line in registry.cc.
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

using BrokerFactory = std::function<Result<std::unique_ptr<Broker>>(
    std::string_view url, const std::map<std::string, std::string>& options)>;

// A test seam, for fault injection: while it lives, MakeBroker (and so a
// whole Host, through its config's URLs) makes brokers of `scheme` with
// `make`, typically a wrapper around another adapter
// (tests/support/faulty_broker.h). Ferry's own adapters stay the fixed table
// in registry.cc; a scheme that exists there, or is registered already,
// cannot be registered again (Create says so). Thread-safe.
class ScopedBrokerScheme {
 public:
  static Result<std::unique_ptr<ScopedBrokerScheme>> Create(std::string scheme, BrokerFactory make);
  ~ScopedBrokerScheme();  // unregisters
  ScopedBrokerScheme(const ScopedBrokerScheme&) = delete;
  ScopedBrokerScheme& operator=(const ScopedBrokerScheme&) = delete;

 private:
  explicit ScopedBrokerScheme(std::string scheme) : scheme_(std::move(scheme)) {}
  std::string scheme_;
};

}  // namespace ferry
