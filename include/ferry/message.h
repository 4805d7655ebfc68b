// A message as Ferry carries it between brokers and guests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

// An immutable byte buffer shared between copies: a message fanned out to
// several subscribers, or held for redelivery, is not copied until its bytes
// enter guest memory. Replacing the bytes makes a new buffer. The bytes may
// live in memory someone else owns (a guest's payload the engine handed
// over); `owner` keeps them alive.
class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(std::vector<std::uint8_t> bytes) {
    auto vec = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
    data_ = vec->data();
    size_ = vec->size();
    owner_ = std::move(vec);
  }
  // Adopts `size` bytes at `data`, valid for as long as `owner` lives.
  Bytes(std::shared_ptr<const void> owner, const std::uint8_t* data, std::size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}
  static Bytes Copy(std::span<const std::uint8_t> bytes) {
    return Bytes(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  }
  static Bytes FromString(std::string_view s) {
    return Copy({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  }

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::uint8_t> span() const { return {data_, size_}; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  // What keeps the bytes alive; null for an empty buffer.
  const std::shared_ptr<const void>& owner() const { return owner_; }

  friend bool operator==(const Bytes& a, const Bytes& b) {
    return a.view() == b.view();
  }

 private:
  std::shared_ptr<const void> owner_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Ordered key/value pairs; keys are unique (Set replaces).
class Metadata {
 public:
  using Entry = std::pair<std::string, std::string>;

  Metadata() = default;
  Metadata(std::initializer_list<Entry> entries);

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

  std::optional<std::string_view> Get(std::string_view key) const;
  void Set(std::string key, std::string value);  // replaces an existing key
  bool Remove(std::string_view key);
  void Clear() { entries_.clear(); }
  // Replaces everything; later duplicates of a key win.
  void Assign(std::vector<Entry> entries);
  // Sum of key and value lengths: what size limits count.
  std::size_t ByteSize() const;

  friend bool operator==(const Metadata&, const Metadata&) = default;

 private:
  std::vector<Entry> entries_;
};

struct Message {
  std::string topic;                        // where it was published / received
  Bytes data;
  std::optional<std::string> content_type;  // e.g. "application/json"
  Metadata metadata;                        // headers, user properties, fields
  std::string reply_to;                     // inbox a reply goes to; empty if none
};

}  // namespace ferry
