// `ferry status`: a running ferry's figures through its control socket, as
// a table or as the JSON the host sends.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "ferry/control.h"

namespace ferry::cli {
namespace {

struct StatusOptions {
  std::string control;
  bool json = false;
};

std::string Num(const nlohmann::json& v) { return std::to_string(v.get<std::uint64_t>()); }

void PrintTable(const nlohmann::json& s) {
  std::printf("ready: %s", s.at("ready").get<bool>() ? "yes" : "no");
  if (s.contains("not_ready_because")) std::printf(" (%s)", s["not_ready_because"].get<std::string>().c_str());
  std::printf("\n\n%-20s %10s %10s %8s %8s %10s %9s %6s %10s\n", "COMPONENT", "RECEIVED", "HANDLED", "FAILED",
              "RETRIED", "DEAD-LTR", "IN-FLIGHT", "QUEUE", "MEAN-MS");
  for (const auto& c : s.at("components")) {
    std::printf("%-20s %10s %10s %8s %8s %10s %9s %6s %10.3f\n", c.at("name").get<std::string>().c_str(),
                Num(c.at("received")).c_str(), Num(c.at("handled")).c_str(), Num(c.at("failed")).c_str(),
                Num(c.at("retried")).c_str(), Num(c.at("dead_lettered")).c_str(), Num(c.at("in_flight")).c_str(),
                Num(c.at("queue_depth")).c_str(), c.at("handler_mean_ms").get<double>());
    std::string reasons;
    for (const auto& [reason, n] : c.at("failed_by_reason").items())
      if (n.get<std::uint64_t>() > 0) reasons += (reasons.empty() ? "" : ", ") + reason + " " + Num(n);
    if (!reasons.empty()) std::printf("%-20s failed: %s\n", "", reasons.c_str());
  }
  std::printf("\n%-20s %-14s %10s  %s\n", "BROKER", "STATE", "RECONNECTS", "URL");
  for (const auto& b : s.at("brokers"))
    std::printf("%-20s %-14s %10s  %s\n", b.at("name").get<std::string>().c_str(),
                b.at("state").get<std::string>().c_str(), Num(b.at("reconnects")).c_str(),
                b.at("url").get<std::string>().c_str());
  const auto& p = s.at("process");
  std::printf("\nprocess: %.1f MiB resident, %s threads, %s open files, up %.0f s\n",
              static_cast<double>(p.at("resident_bytes").get<std::uint64_t>()) / (1 << 20),
              Num(p.at("threads")).c_str(), Num(p.at("open_files")).c_str(), p.at("uptime_seconds").get<double>());
}

}  // namespace

void AddStatusCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand("status", "Show a running ferry's deliveries, brokers and health");
  cmd->add_option("--control", o->control, "Control socket of the running ferry");
  cmd->add_flag("--json", o->json, "Print the figures as one JSON object");
  cmd->callback([o, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) {
      exit_code = kExitUsage;
      return;
    }
    const std::string socket = o->control.empty() ? DefaultControlSocket() : o->control;
    auto status = ControlStatus(socket);
    if (!status.ok()) {
      PrintError(status.error().ToString());
      exit_code = kExitFailure;
      return;
    }
    if (o->json) {
      std::printf("%s\n", status->c_str());
      return;
    }
    const auto parsed = nlohmann::json::parse(*status, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      PrintError("the ferry at " + socket + " sent a status that is not JSON");
      exit_code = kExitFailure;
      return;
    }
    try {
      PrintTable(parsed);
    } catch (const nlohmann::json::exception& e) {
      PrintError(std::string("the ferry at ") + socket + " sent a status this ferry cannot read: " + e.what());
      exit_code = kExitFailure;
    }
  });
}

}  // namespace ferry::cli
