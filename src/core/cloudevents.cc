#include "core/cloudevents.h"

#include <array>
#include <chrono>
#include <ctime>
#include <random>
#include <vector>

#include <fmt/format.h>

namespace ferry {
namespace {

// The attributes the specification defines, which MQTT carries without a
// prefix; other user properties of a CloudEvent are left as they are.
constexpr std::array<std::string_view, 8> kMqttAttributes = {
    "specversion", "id", "source", "type", "time", "subject", "dataschema", "datacontenttype"};

bool IsMqttAttribute(std::string_view name) {
  for (std::string_view a : kMqttAttributes)
    if (a == name) return true;
  return false;
}

std::string_view WirePrefix(CloudEventsBinding binding) {
  switch (binding) {
    case CloudEventsBinding::kKafka: return "ce_";
    case CloudEventsBinding::kAmqp: return "cloudEvents:";
    case CloudEventsBinding::kMqtt: return "";
  }
  return "";
}

bool HasPrefix(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

const Metadata& CloudEventsToWire(const Metadata& in, CloudEventsBinding binding, Metadata& storage) {
  bool any = false;
  for (const auto& [key, value] : in) any |= HasPrefix(key, kCloudEventsPrefix);
  if (!any) return in;
  std::vector<Metadata::Entry> out;
  out.reserve(in.size());
  for (const auto& [key, value] : in) {
    if (!HasPrefix(key, kCloudEventsPrefix)) {
      out.emplace_back(key, value);
      continue;
    }
    const std::string_view name = std::string_view(key).substr(kCloudEventsPrefix.size());
    // MQTT has no prefix: only the defined attributes are renamed, so a
    // user property never takes the name of another one by accident.
    if (binding == CloudEventsBinding::kMqtt && !IsMqttAttribute(name)) {
      out.emplace_back(key, value);
      continue;
    }
    out.emplace_back(std::string(WirePrefix(binding)) + std::string(name), value);
  }
  storage.Assign(std::move(out));
  return storage;
}

void CloudEventsFromWire(Metadata& metadata, CloudEventsBinding binding) {
  if (binding == CloudEventsBinding::kMqtt && !metadata.Get("specversion")) return;  // not an event
  bool any = false;
  std::vector<Metadata::Entry> out;
  out.reserve(metadata.size());
  for (const auto& [key, value] : metadata) {
    std::string_view name;
    switch (binding) {
      case CloudEventsBinding::kKafka:
        if (HasPrefix(key, "ce_")) name = std::string_view(key).substr(3);
        break;
      case CloudEventsBinding::kAmqp:
        if (HasPrefix(key, "cloudEvents:") || HasPrefix(key, "cloudEvents_"))
          name = std::string_view(key).substr(12);
        break;
      case CloudEventsBinding::kMqtt:
        if (IsMqttAttribute(key)) name = key;
        break;
    }
    if (name.empty()) {
      out.emplace_back(key, value);
    } else {
      any = true;
      out.emplace_back(std::string(kCloudEventsPrefix) + std::string(name), value);
    }
  }
  if (any) metadata.Assign(std::move(out));
}

std::string NewCloudEventId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

std::string CloudEventTime() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03d}Z", std::string_view(text, n), static_cast<int>(ms));
}

}  // namespace ferry
