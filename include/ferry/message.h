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

// Ordered key/value pairs; keys are unique (Set replaces). Copies share
// the entries until one of them changes (copy on write): a message copied
// for each subscriber, for redelivery or out of a guest does not copy its
// metadata.
class Metadata {
 public:
  using Entry = std::pair<std::string, std::string>;

  Metadata() = default;
  Metadata(std::initializer_list<Entry> entries);

  const std::vector<Entry>& entries() const { return entries_ ? *entries_ : Empty(); }
  bool empty() const { return !entries_ || entries_->empty(); }
  std::size_t size() const { return entries_ ? entries_->size() : 0; }
  auto begin() const { return entries().begin(); }
  auto end() const { return entries().end(); }

  std::optional<std::string_view> Get(std::string_view key) const;
  void Set(std::string key, std::string value);  // replaces an existing key
  bool Remove(std::string_view key);
  void Clear() { entries_.reset(); }
  // Replaces everything; later duplicates of a key win.
  void Assign(std::vector<Entry> entries);
  // Sum of key and value lengths: what size limits count.
  std::size_t ByteSize() const;

  friend bool operator==(const Metadata& a, const Metadata& b) { return a.entries() == b.entries(); }

 private:
  static const std::vector<Entry>& Empty();
  // The entries, this copy's own (copied first if another copy shares them).
  std::vector<Entry>& Own();

  std::shared_ptr<const std::vector<Entry>> entries_;  // null: none
};

// An optional text that copies share (content types repeat on every
// message of a stream and are mostly longer than a short string's inline
// room). Reads like std::optional<std::string>.
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::nullopt_t) {}
  SharedText(std::string text) : text_(std::make_shared<const std::string>(std::move(text))) {}
  SharedText(const char* text) : SharedText(std::string(text)) {}
  SharedText(std::string_view text) : SharedText(std::string(text)) {}
  SharedText(std::optional<std::string> text) {
    if (text) text_ = std::make_shared<const std::string>(std::move(*text));
  }

  bool has_value() const { return text_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  const std::string& operator*() const { return *text_; }
  const std::string* operator->() const { return text_.get(); }
  std::string value_or(std::string_view otherwise) const {
    return text_ ? *text_ : std::string(otherwise);
  }
  void reset() { text_.reset(); }

  friend bool operator==(const SharedText& a, const SharedText& b) {
    return a.text_ == b.text_ || (a.text_ && b.text_ && *a.text_ == *b.text_);
  }
  friend bool operator==(const SharedText& a, std::string_view b) { return a.text_ && *a.text_ == b; }
  friend bool operator==(const SharedText& a, const char* b) { return a == std::string_view(b); }
  friend bool operator==(const SharedText& a, const std::string& b) { return a == std::string_view(b); }
  friend bool operator==(const SharedText& a, std::nullopt_t) { return !a.text_; }

 private:
  std::shared_ptr<const std::string> text_;
};

struct Message {
  std::string topic;                        // where it was published / received
  Bytes data;
  SharedText content_type;                  // e.g. "application/json"; none if unset
  Metadata metadata;                        // headers, user properties, fields
  std::string reply_to;                     // inbox a reply goes to; empty if none
};

}  // namespace ferry
