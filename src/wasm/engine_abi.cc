#include "wasm/engine_abi.h"

#include <array>

namespace ferry::wasm {
namespace {

// The host's side of a buffer the engine handed over.
struct Adopted {
  explicit Adopted(const fe_buffer& b) : buffer(b) {}
  ~Adopted() {
    if (buffer.release) buffer.release(buffer.owner);
  }
  Adopted(const Adopted&) = delete;
  Adopted& operator=(const Adopted&) = delete;
  fe_buffer buffer;
};

}  // namespace

Bytes AdoptBuffer(const fe_buffer& buffer) {
  if (buffer.len == 0) {
    if (buffer.release) buffer.release(buffer.owner);
    return Bytes();
  }
  auto owner = std::make_shared<const Adopted>(buffer);
  return Bytes(std::move(owner), buffer.ptr, buffer.len);
}

namespace {

// What a MessageView lends: the host's copy of the message, and the pairs
// the view points at.
struct LentMessage {
  explicit LentMessage(const Message& m) : message(m) {
    const std::size_t n = message.metadata.size();
    if (n > kInline) more.reserve(n);
    std::size_t i = 0;
    for (const auto& [k, v] : message.metadata) {
      const fe_pair p{ToFe(k), ToFe(v)};
      if (n > kInline) more.push_back(p);
      else inline_pairs[i++] = p;
    }
  }
  const fe_pair* pairs() const { return message.metadata.size() > kInline ? more.data() : inline_pairs.data(); }

  static constexpr std::size_t kInline = 4;
  const Message message;
  std::array<fe_pair, kInline> inline_pairs{};
  std::vector<fe_pair> more;
};

void ReleaseLentMessage(void* owner) { delete static_cast<const LentMessage*>(owner); }

}  // namespace

MessageView::MessageView(const Message& m, void* origin) {
  const auto* lent = new LentMessage(m);
  const Message& held = lent->message;
  view_.topic = ToFe(held.topic);
  view_.data = {held.data.data(), held.data.size(), const_cast<LentMessage*>(lent), ReleaseLentMessage};
  view_.has_content_type = held.content_type.has_value();
  view_.content_type = held.content_type ? ToFe(*held.content_type) : fe_str{nullptr, 0};
  view_.metadata = lent->pairs();
  view_.metadata_len = held.metadata.size();
  view_.reply_to = ToFe(held.reply_to);
  view_.origin = origin;
  view_.source = const_cast<LentMessage*>(lent);
}

Message TakeMessage(const fe_message& in) {
  if (in.source) {
    // Unchanged since the host lent it: a copy of the host's message. The
    // engine lends no data of its own with it.
    if (in.data.release) in.data.release(in.data.owner);
    return static_cast<const LentMessage*>(in.source)->message;
  }
  Message m;
  m.topic = std::string(FromFe(in.topic));
  m.data = AdoptBuffer(in.data);
  if (in.has_content_type) m.content_type = std::string(FromFe(in.content_type));
  std::vector<Metadata::Entry> entries;
  entries.reserve(in.metadata_len);
  for (std::size_t i = 0; i < in.metadata_len; ++i)
    entries.emplace_back(std::string(FromFe(in.metadata[i].key)), std::string(FromFe(in.metadata[i].value)));
  m.metadata.Assign(std::move(entries));
  m.reply_to = std::string(FromFe(in.reply_to));
  return m;
}

}  // namespace ferry::wasm
