#include "runtime/host_setup.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "brokers/registry.h"
#include "wasm/guest.h"

namespace ferry {

std::filesystem::path DefaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "ferry" / "components";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".cache" / "ferry" / "components";
  return {};
}

// The engine for `config`: fuel metering when a budget is set, and a pool
// of instance slots for every worker's instance (and the fresh one made
// beside it for 0.1.0 components), plus room for configure() and reloads.
wasm::EngineOptions EngineOptionsFor(const config::Config& config) {
  wasm::EngineOptions options;
  options.cache_dir = config.host.cache_dir.empty() ? DefaultCacheDir() : config.host.cache_dir;
  options.cache_max_bytes = std::min<std::uint64_t>(config.host.cache_max_mb, 1ull << 40) << 20;
  options.consume_fuel = config.limits.fuel_per_call > 0;
  options.max_memory_bytes = config.limits.max_memory_bytes;
  std::uint32_t slots = 16;
  for (const auto& component : config.components) slots += 2 * component.workers + 2;
  options.pooled_instances = std::min<std::uint32_t>(slots, 4096);
  return options;
}

// Payload buffers of a megabyte or so are allocated and freed for every
// large message. By default glibc maps each one fresh and gives freed
// memory back to the kernel, so every message pays for faulting a megabyte
// in again (about 100 µs per MiB here). Kept in the heap, a freed buffer
// serves the next message. The bounds: buffers up to 32 MiB (glibc's
// largest threshold) come from the heap, and up to 64 MiB of free memory
// stays mapped. Process-wide, once.
void KeepPayloadBuffers() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
  });
#endif
}



// What Create and Reload read: the config file, or one component on the
// embedded broker, with the options' overrides.
Result<config::Config> ConfigFor(const HostOptions& options) {
  Result<config::Config> config =
      options.config      ? config::CompleteConfig(*options.config)
      : options.config_file.empty()
          ? config::SingleComponentConfig(options.component, options.subscriptions, options.broker_url)
          : config::LoadConfig(options.config_file);
  if (!config.ok()) return config.error();
  if (!options.control_socket.empty()) config->host.control_socket = options.control_socket;
  return config;
}

// A component from its file, or from the bytes the configuration holds.
Result<std::shared_ptr<wasm::CompiledComponent>> LoadFor(wasm::Engine& engine,
                                                         const config::ComponentConfig& component) {
  if (component.bytes)
    return engine.LoadComponent(component.path.empty() ? std::filesystem::path(component.name) : component.path,
                                *component.bytes);
  return engine.LoadComponent(component.path);
}

// Every broker URL and its settings, without connecting.
Status CheckBrokers(const config::Config& config) {
  for (const auto& b : config.brokers) {
    auto broker = MakeBroker(b.url, b.options);
    if (!broker.ok()) return broker.error().WithContext("broker '" + b.name + "'");
  }
  return Status::Ok();
}

Status CheckConfig(const config::Config& config) {
  FERRY_RETURN_IF_ERROR(CheckBrokers(config));
  auto engine = wasm::Engine::Create(EngineOptionsFor(config));
  if (!engine.ok()) return engine.error();
  for (const auto& component : config.components) {
    auto compiled = LoadFor(**engine, component);
    if (!compiled.ok()) return compiled.error();
  }
  return Status::Ok();
}

std::vector<std::string> NamesOf(const config::Config& config) {
  std::vector<std::string> out;
  for (const auto& component : config.components) out.push_back(component.name);
  return out;
}

// Whether the broker `name` of `before` goes on serving `after` across a
// reload: the embedded broker, when its settings did not change. It lives
// in this process, so its subscribers (control clients, Listeners) and what
// is queued on it would otherwise be lost. A connection to an outside broker
// is made anew, as at start; that broker keeps its messages itself.
bool OutlivesReload(const config::Config& before, const config::Config& after,
                    const std::string& name) {
  const config::BrokerConfig* a = before.FindBroker(name);
  const config::BrokerConfig* b = after.FindBroker(name);
  return a && b && a->url == b->url && a->options == b->options && a->url.starts_with("mem://");
}

}  // namespace ferry
