// Runs a real Host over the embedded broker with components built by the
// build, and collects what they publish.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/host.h"
#include "support/matchers.h"

namespace ferry::testing {

// Path of a component built into the build folder, e.g. Component("echo").
std::filesystem::path Component(const std::string& name);

// Tests of other behaviour run with every capability granted: adds
// allow_publish/request/subscribe = [">"] to each [[component]] of a config
// that grants nothing itself. Tests of grants write their own.
std::string GrantEverything(std::string config_toml);
// The config a test host runs: everything granted, "$COMPONENTS" replaced
// by the components folder, and the shared test compile cache in [host].
std::string TestConfig(const std::string& config_toml);

// A fresh temporary folder, removed when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path Write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// Messages seen on a pattern, with waiting.
class Inbox {
 public:
  void Add(const Message& m);
  // Waits until at least `n` messages arrived (generous limit); returns them.
  std::vector<Message> WaitFor(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(20));
  std::vector<Message> Snapshot();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
};

// A started host plus listeners. The config is a ferry.toml body; the string
// "$COMPONENTS" in it is replaced by the components folder.
class RunningHost {
 public:
  // `log_level` overrides [host].log_level (which the fixture writes).
  explicit RunningHost(const std::string& config_toml, const std::string& log_level = "");
  ~RunningHost();

  Host& host() { return *host_; }
  const Status& start_status() const { return start_; }
  // Starts collecting messages on `pattern` of the default broker.
  Inbox& Listen(const std::string& pattern);
  Status Publish(const std::string& topic, const std::string& data, Metadata metadata = {},
                 std::optional<std::string> content_type = std::nullopt);
  ComponentStats StatsOf(const std::string& component);
  // Stats once `component` has settled at least `n` deliveries (handled or
  // failed), or after a generous limit.
  ComponentStats SettledStats(const std::string& component, std::uint64_t n);
  // Stats once `done` holds for them, or after a generous limit.
  ComponentStats WaitForStats(const std::string& component,
                              const std::function<bool(const ComponentStats&)>& done);

 private:
  TempDir dir_;
  std::unique_ptr<Host> host_;
  Status start_;
  std::vector<std::unique_ptr<Inbox>> inboxes_;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

std::string Text(const Message& m);
// How often each text has arrived in `inbox` so far.
std::map<std::string, int> Tally(Inbox& inbox);

}  // namespace ferry::testing
