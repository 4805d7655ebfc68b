#include "ferry/message.h"

#include <algorithm>

namespace ferry {

Metadata::Metadata(std::initializer_list<Entry> entries) {
  for (const auto& [k, v] : entries) Set(k, v);
}

std::optional<std::string_view> Metadata::Get(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

void Metadata::Set(std::string key, std::string value) {
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

bool Metadata::Remove(std::string_view key) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.first == key; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

void Metadata::Assign(std::vector<Entry> entries) {
  entries_.clear();
  for (auto& [k, v] : entries) Set(std::move(k), std::move(v));
}

std::size_t Metadata::ByteSize() const {
  std::size_t n = 0;
  for (const auto& [k, v] : entries_) n += k.size() + v.size();
  return n;
}

}  // namespace ferry
