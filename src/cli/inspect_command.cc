#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "ferry/host.h"

namespace ferry::cli {

void AddInspectCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show which wasi:messaging shape a component speaks, its imports and exports");
  cmd->add_option("component", *path, "The component (.wasm)")->required();
  cmd->callback([path, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) {
      exit_code = kExitUsage;
      return;
    }
    auto description = DescribeComponent(*path);
    if (!description.ok()) {
      PrintError(description.error().message());
      exit_code = kExitFailure;
      return;
    }
    std::printf("component: %s\nshape: %s\nimports:\n", path->c_str(), description->shape.c_str());
    for (const auto& name : description->imports) std::printf("  %s\n", name.c_str());
    std::printf("exports:\n");
    for (const auto& name : description->exports) std::printf("  %s\n", name.c_str());
    const bool http = std::any_of(description->imports.begin(), description->imports.end(),
                                  [](const std::string& n) { return n.starts_with("wasi:http/outgoing-handler@"); });
    if (http) std::printf("outgoing HTTP: yes, to what its allow_http grants (none by default)\n");
    if (description->runnable.ok()) {
      std::printf("runnable: yes\n");
    } else {
      std::printf("runnable: no: %s\n", description->runnable.error().message().c_str());
      exit_code = kExitFailure;
    }
  });
}

}  // namespace ferry::cli
