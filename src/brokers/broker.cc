#include "brokers/broker.h"

#include <atomic>
#include <charconv>
#include <mutex>
#include <random>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brokers/publish_window.h"

namespace ferry {

void WarnUnknownExtensions(std::string_view adapter,
                           const std::map<std::string, std::string>& extensions,
                           std::initializer_list<std::string_view> known) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  for (const auto& [key, value] : extensions) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || k == key;
    if (ok) continue;
    std::lock_guard lock(mutex);
    if (warned.insert(std::string(adapter) + "/" + key).second)
      spdlog::warn("{}: ignoring the subscription setting '{}' (not one this broker knows)", adapter,
                   key);
  }
}

Result<std::uint32_t> ParseMaxUnconfirmed(std::string_view value) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n == 0)
    return Error::InvalidArgument("max_unconfirmed: expected a positive integer, got '" +
                                  std::string(value) + "'");
  return n;
}

Status Broker::PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) {
  Status sent = Publish(message, deadline);
  if (sent.ok()) done(Status::Ok());
  return sent;
}

std::string_view ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kDisconnected: return "disconnected";
    case ConnectionState::kConnecting: return "connecting";
    case ConnectionState::kConnected: return "connected";
    case ConnectionState::kReconnecting: return "reconnecting";
    case ConnectionState::kClosed: return "closed";
  }
  return "unknown";
}

std::string RandomToken() {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{}", rng(), counter.fetch_add(1));
}

}  // namespace ferry
