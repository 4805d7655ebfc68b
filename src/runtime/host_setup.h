// What the host derives from its configuration before anything runs: the
// configuration itself (file, single component, or given), the engine's
// options, checks of brokers and components, and what a reload keeps.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "ferry/host.h"
#include "wasm/engine.h"

namespace ferry {

std::filesystem::path DefaultCacheDir();

// The engine for `config`: fuel metering when a budget is set, and a pool
// of instance slots for every worker's instance (and the fresh one made
// beside it for 0.1.0 components), plus room for configure() and reloads.
wasm::EngineOptions EngineOptionsFor(const config::Config& config);

// Keeps freed payload-sized buffers in the heap (see host_setup.cc).
// Process-wide, once.
void KeepPayloadBuffers();

// What Create and Reload read: the config file, or one component on the
// embedded broker, with the options' overrides.
Result<config::Config> ConfigFor(const HostOptions& options);

// A component from its file, or from the bytes the configuration holds.
Result<std::shared_ptr<wasm::CompiledComponent>> LoadFor(wasm::Engine& engine,
                                                         const config::ComponentConfig& component);

// Every broker URL and its settings, without connecting.
Status CheckBrokers(const config::Config& config);
// Every broker URL makes a broker and every component compiles.
Status CheckConfig(const config::Config& config);

std::vector<std::string> NamesOf(const config::Config& config);

// Whether the broker `name` of `before` goes on serving `after` across a
// reload (see host_setup.cc).
bool OutlivesReload(const config::Config& before, const config::Config& after, const std::string& name);

}  // namespace ferry
