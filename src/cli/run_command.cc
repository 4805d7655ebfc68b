#include <csignal>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "ferry/host.h"

namespace ferry::cli {
namespace {

struct RunOptions {
  std::string component;
  std::string config;
  std::vector<std::string> subscriptions;
  std::string broker;
  std::string control;
  std::uint32_t grace_ms = 10000;
};

// SIGHUP: the new configuration is parsed and every component compiled
// while the running host goes on; only then are the running components
// stopped (messages in flight finish, within the grace period) and the new
// ones started. A configuration that fails on the way leaves the running
// one, or brings it back, and the host logs why. The control socket and the
// embedded broker stay: clients stay connected, and messages published
// meanwhile wait in the broker for the new components (Host::Reload).
void Reload(const HostOptions& options, std::chrono::milliseconds grace, Host& host) {
  if (options.config_file.empty()) {
    spdlog::warn("SIGHUP: nothing to reload (ferry run was not given --config)");
    return;
  }
  spdlog::info("SIGHUP: reloading {}", options.config_file.string());
  if (host.Reload(options, grace).ok()) spdlog::info("reloaded {}", options.config_file.string());
}

int Run(const RunOptions& options, const GlobalOptions& global) {
  if (!ApplyLogLevel(global, "warn")) return kExitUsage;
  if (options.component.empty() == options.config.empty()) {
    PrintError("run needs either COMPONENT.wasm or --config FILE (see ferry run --help)");
    return kExitUsage;
  }
  if (!options.broker.empty() && !options.config.empty()) {
    PrintError("--broker goes with COMPONENT.wasm; with --config, name brokers in the file");
    return kExitUsage;
  }
  HostOptions host_options;
  host_options.config_file = options.config;
  host_options.component = options.component;
  host_options.broker_url = options.broker;
  host_options.subscriptions = options.subscriptions;
  host_options.control_socket = options.control;
  host_options.log_level = RequestedLogLevel(global);
  host_options.log_format = global.log_format;
  if (options.config.empty() && options.control.empty())
    host_options.control_socket = DefaultControlSocket();

  auto host = Host::Create(host_options);
  if (!host.ok()) {
    PrintError(host.error().message());
    return kExitUsage;
  }
  Status started = (*host)->Start();
  if (!started.ok()) {
    PrintError(started.error().message());
    return kExitFailure;
  }
  spdlog::info("ferry {} running; SIGINT or SIGTERM stops it, SIGHUP reloads", Version());

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  int signal = 0;
  const auto grace = std::chrono::milliseconds(options.grace_ms);
  while (true) {
    sigwait(&signals, &signal);
    if (signal != SIGHUP) break;
    Reload(host_options, grace, **host);
  }
  spdlog::info("{}: finishing messages in flight", signal == SIGINT ? "SIGINT" : "SIGTERM");
  (*host)->Stop(grace);
  for (const auto& s : (*host)->Stats())
    spdlog::info("{}: received {}, handled {}, failed {}, gave up {}, released {}, settle failed {}",
                 s.name, s.received, s.handled, s.failed, s.given_up, s.released, s.settle_failed);
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Run components until SIGINT or SIGTERM");
  run->add_option("component", options->component, "A component (.wasm) to run on the embedded broker");
  run->add_option("-c,--config", options->config, "A ferry.toml naming brokers and components");
  run->add_option("-s,--subscribe", options->subscriptions,
                  "Topic pattern the component receives (repeatable; '*' one token, '>' the rest)");
  run->add_option("--broker", options->broker,
                  "Run the component on this broker (nats://, mqtt://, redis://, ...) instead of the "
                  "embedded one; it may use all of it");
  run->add_option("--control", options->control,
                  "Unix socket for ferry publish/request/subscribe (default: $FERRY_CONTROL_SOCKET, "
                  "$XDG_RUNTIME_DIR/ferry.sock or /tmp/ferry-UID.sock)");
  run->add_option("--grace-ms", options->grace_ms,
                  "How long messages in flight may take to finish at shutdown");
  run->callback([options, &global, &exit_code] { exit_code = Run(*options, global); });
}

}  // namespace ferry::cli
