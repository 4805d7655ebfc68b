// Ferry's engine ABI (engine/include/ferry_engine.h) in C++ terms: each
// engine handle owned by a move-only RAII type, engine text turned into
// Ferry errors, and messages converted both ways without copying payloads.
// Only src/wasm includes this.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <ferry_engine.h>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::wasm {

template <typename T, void (*Free)(T*)>
struct EngineDeleter {
  void operator()(T* p) const { Free(p); }
};
using EnginePtr = std::unique_ptr<fe_engine, EngineDeleter<fe_engine, fe_engine_free>>;
using ComponentPtr = std::unique_ptr<fe_component, EngineDeleter<fe_component, fe_component_free>>;
using PrePtr = std::unique_ptr<fe_pre, EngineDeleter<fe_pre, fe_pre_free>>;
using InstancePtr = std::unique_ptr<fe_instance, EngineDeleter<fe_instance, fe_instance_free>>;

inline fe_str ToFe(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view FromFe(fe_str s) { return s.len == 0 ? std::string_view() : std::string_view(s.ptr, s.len); }

// Owns an fe_text the engine filled in; empty until it has.
class EngineText {
 public:
  EngineText() = default;
  ~EngineText() { fe_text_free(&text_); }
  EngineText(const EngineText&) = delete;
  EngineText& operator=(const EngineText&) = delete;
  fe_text* out() { return &text_; }
  std::string str() const { return text_.ptr ? std::string(text_.ptr, text_.len) : std::string(); }

 private:
  fe_text text_{nullptr, 0};
};

// Adopts a payload the engine handed over (no copy); releases it when the
// last copy of the returned Bytes goes.
Bytes AdoptBuffer(const fe_buffer& buffer);

// An fe_message lending `message` to the engine: a copy of it (sharing its
// payload, metadata and content type), which the view's strings point into
// and the view's data owns, goes with the data to the receiver; the engine
// may hand it back untouched as `source` (a guest forwarding a message it
// got). The receiver must take the data.
class MessageView {
 public:
  MessageView(const Message& message, void* origin);
  const fe_message* get() const { return &view_; }
  fe_message* get() { return &view_; }

 private:
  fe_message view_{};
};

// The Message an fe_message describes (a copy of its source, when it has
// one); takes its data.
Message TakeMessage(const fe_message& m);

// Takes `count` messages and hands them to `use` (one, the usual case,
// without allocating a list).
template <typename F>
decltype(auto) WithMessages(const fe_message* messages, std::size_t count, F&& use) {
  if (count == 1) {
    Message one = TakeMessage(messages[0]);
    return use(std::span<Message>(&one, 1));
  }
  std::vector<Message> taken;
  taken.reserve(count);
  for (std::size_t i = 0; i < count; ++i) taken.push_back(TakeMessage(messages[i]));
  return use(std::span<Message>(taken));
}

}  // namespace ferry::wasm
