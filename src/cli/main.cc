// The `ferry` command. Uses only the public headers in include/ferry/.
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "ferry/host.h"

int main(int argc, char** argv) {
  // Signals are taken with sigwait: by `ferry run`, and by a watcher thread
  // in publish, request and subscribe (cli/signal_stop.h). Block them before
  // any thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"Ferry runs WebAssembly components that speak wasi:messaging."};
  app.set_version_flag("--version", std::string("ferry ") + std::string(ferry::Version()));
  app.require_subcommand(1);
  ferry::cli::GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity,
               "More log output (-v info, -vv debug, -vvv trace); logs go to stderr");
  app.add_option("--log-level", global.log_level, "off, error, warn, info, debug or trace");
  app.add_option("--log-format", global.log_format, "text, or json for one JSON object per line")
      ->check(CLI::IsMember({"text", "json"}));

  int exit_code = 0;
  ferry::cli::AddRunCommand(app, global, exit_code);
  ferry::cli::AddPublishCommand(app, global, exit_code);
  ferry::cli::AddRequestCommand(app, global, exit_code);
  ferry::cli::AddSubscribeCommand(app, global, exit_code);
  ferry::cli::AddInspectCommand(app, global, exit_code);
  ferry::cli::AddBenchCommand(app, global, exit_code);
  ferry::cli::AddStatusCommand(app, global, exit_code);
  ferry::cli::AddNewCommand(app, exit_code);
  ferry::cli::AddCompletionsCommand(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ferry: %s (see ferry --help)\n", e.what());
    return 2;
  }
  return exit_code;
}
