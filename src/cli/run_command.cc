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
  std::string control;
  std::uint32_t grace_ms = 10000;
};

int Run(const RunOptions& options, const GlobalOptions& global) {
  if (!ApplyLogLevel(global, "warn")) return kExitUsage;
  if (options.component.empty() == options.config.empty()) {
    PrintError("run needs either COMPONENT.wasm or --config FILE (see ferry run --help)");
    return kExitUsage;
  }
  HostOptions host_options;
  host_options.config_file = options.config;
  host_options.component = options.component;
  host_options.subscriptions = options.subscriptions;
  host_options.control_socket = options.control;
  host_options.log_level = RequestedLogLevel(global);
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
  spdlog::info("ferry {} running; SIGINT or SIGTERM stops it", Version());

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("{}: finishing messages in flight", signal == SIGINT ? "SIGINT" : "SIGTERM");
  (*host)->Stop(std::chrono::milliseconds(options.grace_ms));
  for (const auto& s : (*host)->Stats())
    spdlog::info("{}: received {}, handled {}, failed {}, gave up {}, released {}", s.name,
                 s.received, s.handled, s.failed, s.given_up, s.released);
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
  run->add_option("--control", options->control,
                  "Unix socket for ferry publish/request/subscribe (default: $FERRY_CONTROL_SOCKET, "
                  "$XDG_RUNTIME_DIR/ferry.sock or /tmp/ferry-UID.sock)");
  run->add_option("--grace-ms", options->grace_ms,
                  "How long messages in flight may take to finish at shutdown");
  run->callback([options, &global, &exit_code] { exit_code = Run(*options, global); });
}

}  // namespace ferry::cli
