#include "wasm/engine_abi.h"

namespace ferry::wasm {
namespace {

// The engine's side of a buffer lent to it: one more reference to the bytes.
void ReleaseLent(void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }

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

fe_buffer LendBytes(const Bytes& bytes) {
  if (bytes.empty() || !bytes.owner()) return {nullptr, 0, nullptr, nullptr};
  return {bytes.data(), bytes.size(), new std::shared_ptr<const void>(bytes.owner()), ReleaseLent};
}

Bytes AdoptBuffer(const fe_buffer& buffer) {
  if (buffer.len == 0) {
    if (buffer.release) buffer.release(buffer.owner);
    return Bytes();
  }
  auto owner = std::make_shared<const Adopted>(buffer);
  return Bytes(std::move(owner), buffer.ptr, buffer.len);
}

MessageView::MessageView(const Message& m, void* origin) {
  pairs_.reserve(m.metadata.size());
  for (const auto& [k, v] : m.metadata) pairs_.push_back({ToFe(k), ToFe(v)});
  view_.topic = ToFe(m.topic);
  view_.data = LendBytes(m.data);
  view_.has_content_type = m.content_type.has_value();
  view_.content_type = m.content_type ? ToFe(*m.content_type) : fe_str{nullptr, 0};
  view_.metadata = pairs_.data();
  view_.metadata_len = pairs_.size();
  view_.reply_to = ToFe(m.reply_to);
  view_.origin = origin;
}

Message TakeMessage(const fe_message& in) {
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
