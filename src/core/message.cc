#include "ferry/message.h"

#include <algorithm>
#include <atomic>

namespace ferry {

Metadata::Metadata(std::initializer_list<Entry> entries) {
  for (const auto& [k, v] : entries) Set(k, v);
}

const std::vector<Metadata::Entry>& Metadata::Empty() {
  static const std::vector<Entry> none;
  return none;
}

std::vector<Metadata::Entry>& Metadata::Own() {
  // A use count of 1 means no other copy shares the entries, and none can
  // appear meanwhile: copies are made from this object, which its owner is
  // changing. The vector is made non-const here, and only here, so writing
  // through the pointer-to-const is sound.
  if (entries_ && entries_.use_count() == 1) {
    // The count is read relaxed; the fence orders this copy's writes after
    // whatever another thread did with the entries before it let go of
    // them (its release of the count).
    std::atomic_thread_fence(std::memory_order_acquire);
    return const_cast<std::vector<Entry>&>(*entries_);
  }
  auto mine = entries_ ? std::make_shared<std::vector<Entry>>(*entries_) : std::make_shared<std::vector<Entry>>();
  std::vector<Entry>& ref = *mine;
  entries_ = std::move(mine);
  return ref;
}

std::optional<std::string_view> Metadata::Get(std::string_view key) const {
  for (const auto& [k, v] : entries())
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

void Metadata::Set(std::string key, std::string value) {
  std::vector<Entry>& entries = Own();
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

bool Metadata::Remove(std::string_view key) {
  const std::vector<Entry>& current = entries();
  const auto it = std::find_if(current.begin(), current.end(), [&](const Entry& e) { return e.first == key; });
  if (it == current.end()) return false;
  const auto index = it - current.begin();
  std::vector<Entry>& mine = Own();
  mine.erase(mine.begin() + index);
  return true;
}

void Metadata::Assign(std::vector<Entry> entries) {
  entries_.reset();
  if (entries.empty()) return;
  std::vector<Entry>& mine = Own();
  mine.reserve(entries.size());
  for (auto& [k, v] : entries) Set(std::move(k), std::move(v));
}

std::size_t Metadata::ByteSize() const {
  std::size_t n = 0;
  for (const auto& [k, v] : entries()) n += k.size() + v.size();
  return n;
}

}  // namespace ferry
