// The subcommands of `ferry`, one function each.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace ferry::cli {

struct GlobalOptions {
  int verbosity = 0;
  std::string log_level;
  std::string log_format;
};

// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

void AddRunCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddPublishCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddRequestCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddSubscribeCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddInspectCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddBenchCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddStatusCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);
void AddNewCommand(CLI::App& app, int& exit_code);
// Added last: it describes the commands added before it.
void AddCompletionsCommand(CLI::App& app, int& exit_code);

// Applies -v / --log-level; returns false (after printing why) on a bad level.
bool ApplyLogLevel(const GlobalOptions& global, const char* default_level);
// The level -v / --log-level ask for; empty when neither was given.
std::string RequestedLogLevel(const GlobalOptions& global);
// Where publish/request/subscribe find a running `ferry run` by default.
std::string DefaultControlSocket();
// One line on stderr: "ferry: <message>".
void PrintError(const std::string& message);

}  // namespace ferry::cli
