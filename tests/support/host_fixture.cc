#include "support/host_fixture.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

namespace ferry::testing {

std::filesystem::path Component(const std::string& name) {
  return std::filesystem::path(FERRY_COMPONENT_DIR) / (name + ".wasm");
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("ferry-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::Write(const std::string& name, const std::string& text) const {
  auto p = path_ / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

void Inbox::Add(const Message& m) {
  std::lock_guard lock(mutex_);
  messages_.push_back(m);
  cv_.notify_all();
}

std::vector<Message> Inbox::WaitFor(std::size_t n, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, limit, [&] { return messages_.size() >= n; });
  return messages_;
}

std::vector<Message> Inbox::Snapshot() {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::string GrantEverything(std::string text) {
  if (text.find("allow_") != std::string::npos) return text;
  const std::string header = "[[component]]\n";
  const std::string grants =
      "allow_publish = [\">\"]\nallow_request = [\">\"]\nallow_subscribe = [\">\"]\n";
  for (auto pos = text.find(header); pos != std::string::npos;
       pos = text.find(header, pos + header.size() + grants.size()))
    text.insert(pos + header.size(), grants);
  return text;
}

std::string TestConfig(const std::string& config_toml) {
  std::string text = GrantEverything(config_toml);
  const std::string marker = "$COMPONENTS";
  for (auto pos = text.find(marker); pos != std::string::npos; pos = text.find(marker))
    text.replace(pos, marker.size(), FERRY_COMPONENT_DIR);
  // Keep compiled code out of the user's cache; the same folder for every
  // test so each component compiles once per run. It goes into the
  // config's [host] table, or a new one.
  const std::string cache =
      "cache_dir = \"" + (std::filesystem::temp_directory_path() / "ferry-test-cache").string() + "\"\n";
  if (auto host = text.find("[host]\n"); host != std::string::npos)
    text.insert(host + 7, cache);
  else
    text = "[host]\n" + cache + text;
  return text;
}

RunningHost::RunningHost(const std::string& config_toml, const std::string& log_level) {
  const std::string text = TestConfig(config_toml);
  auto created =
      Host::Create({.config_file = dir_.Write("ferry.toml", text), .log_level = log_level});
  if (!created.ok()) {
    start_ = created.error();
    return;
  }
  host_ = std::move(created).value();
  start_ = host_->Start();
}

RunningHost::~RunningHost() {
  listeners_.clear();
  if (host_) host_->Stop(std::chrono::seconds(5));
}

Inbox& RunningHost::Listen(const std::string& pattern) {
  inboxes_.push_back(std::make_unique<Inbox>());
  Inbox* inbox = inboxes_.back().get();
  auto listener = host_->Listen("default", pattern, [inbox](const Message& m) { inbox->Add(m); });
  EXPECT_OK(listener);
  if (listener.ok()) listeners_.push_back(std::move(listener).value());
  return *inbox;
}

Status RunningHost::Publish(const std::string& topic, const std::string& data, Metadata metadata,
                            std::optional<std::string> content_type) {
  Message m;
  m.topic = topic;
  m.data = Bytes::FromString(data);
  m.metadata = std::move(metadata);
  m.content_type = std::move(content_type);
  return host_->Publish("default", m);
}

ComponentStats RunningHost::StatsOf(const std::string& component) {
  for (const auto& s : host_->Stats())
    if (s.name == component) return s;
  ADD_FAILURE() << "no component named " << component;
  return {};
}

ComponentStats RunningHost::SettledStats(const std::string& component, std::uint64_t n) {
  return WaitForStats(component,
                      [n](const ComponentStats& s) { return s.handled + s.failed >= n; });
}

ComponentStats RunningHost::WaitForStats(const std::string& component,
                                         const std::function<bool(const ComponentStats&)>& done) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  ComponentStats s = StatsOf(component);
  while (!done(s) && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    s = StatsOf(component);
  }
  return s;
}

std::string Text(const Message& m) { return std::string(m.data.view()); }

std::map<std::string, int> Tally(Inbox& inbox) {
  std::map<std::string, int> out;
  for (const Message& m : inbox.Snapshot()) ++out[Text(m)];
  return out;
}

}  // namespace ferry::testing
