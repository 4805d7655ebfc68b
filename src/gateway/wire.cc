#include "gateway/wire.h"

namespace ferry::gateway {
namespace {

constexpr std::size_t kMaxStr = 0xFFFF;

class Writer {
 public:
  Writer(Op op, std::uint32_t id) {
    U8(kWireVersion);
    U8(static_cast<std::uint8_t>(op));
    U32(id);
  }
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(std::uint16_t v) {
    U8(static_cast<std::uint8_t>(v >> 8));
    U8(static_cast<std::uint8_t>(v));
  }
  void U32(std::uint32_t v) {
    U16(static_cast<std::uint16_t>(v >> 16));
    U16(static_cast<std::uint16_t>(v));
  }
  // Longer strings are cut: topics and metadata are far shorter, an error
  // text may not be.
  void Str(std::string_view s) {
    s = s.substr(0, kMaxStr);
    U16(static_cast<std::uint16_t>(s.size()));
    out_.append(s);
  }
  void Msg(const Message& m) {
    Str(m.topic);
    Str(m.content_type.value_or(""));
    Str(m.reply_to);
    U16(static_cast<std::uint16_t>(std::min<std::size_t>(m.metadata.size(), 0xFFFF)));
    std::size_t n = 0;
    for (const auto& [k, v] : m.metadata) {
      if (n++ == 0xFFFF) break;
      Str(k);
      Str(v);
    }
    U32(static_cast<std::uint32_t>(m.data.size()));
    out_.append(m.data.view());
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(std::uint8_t& v) {
    if (in_.size() < 1) return false;
    v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U16(std::uint16_t& v) {
    std::uint8_t a, b;
    if (!U8(a) || !U8(b)) return false;
    v = static_cast<std::uint16_t>(a << 8 | b);
    return true;
  }
  bool U32(std::uint32_t& v) {
    std::uint16_t a, b;
    if (!U16(a) || !U16(b)) return false;
    v = static_cast<std::uint32_t>(a) << 16 | b;
    return true;
  }
  bool Bytes(std::size_t n, std::string_view& out) {
    if (in_.size() < n) return false;
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool Str(std::string& out) {
    std::uint16_t n;
    std::string_view s;
    if (!U16(n) || !Bytes(n, s)) return false;
    out.assign(s);
    return true;
  }
  bool Msg(Message& m) {
    std::string content_type;
    std::uint16_t count;
    if (!Str(m.topic) || !Str(content_type) || !Str(m.reply_to) || !U16(count)) return false;
    if (!content_type.empty()) m.content_type = std::move(content_type);
    std::vector<Metadata::Entry> entries;
    for (std::uint16_t i = 0; i < count; ++i) {
      Metadata::Entry e;
      if (!Str(e.first) || !Str(e.second)) return false;
      entries.push_back(std::move(e));
    }
    m.metadata.Assign(std::move(entries));
    std::uint32_t n;
    std::string_view data;
    if (!U32(n) || !Bytes(n, data)) return false;
    m.data = ferry::Bytes::FromString(data);
    return true;
  }
  bool AtEnd() const { return in_.empty(); }

 private:
  std::string_view in_;
};

Error Malformed(std::string_view what) {
  return Error::InvalidArgument("malformed frame: " + std::string(what));
}

// Version, op and id; the op must be one of `allowed`.
Result<std::pair<Op, std::uint32_t>> Head(Reader& r, std::initializer_list<Op> allowed) {
  std::uint8_t version, op;
  std::uint32_t id;
  if (!r.U8(version) || !r.U8(op) || !r.U32(id)) return Malformed("shorter than its 6-byte header");
  if (version != kWireVersion)
    return Malformed("version " + std::to_string(version) + " (this gateway speaks version 1)");
  for (Op a : allowed)
    if (static_cast<std::uint8_t>(a) == op) return std::pair{a, id};
  return Malformed("unknown op " + std::to_string(op));
}

}  // namespace

Result<ClientFrame> DecodeClientFrame(std::string_view bytes) {
  Reader r(bytes);
  auto head = Head(r, {Op::kPublish, Op::kSubscribe, Op::kUnsubscribe, Op::kRequest});
  if (!head.ok()) return head.error();
  ClientFrame f;
  f.op = head->first;
  f.id = head->second;
  bool ok = true;
  switch (f.op) {
    case Op::kPublish:
      ok = r.Msg(f.message);
      break;
    case Op::kSubscribe:
      ok = r.Str(f.pattern);
      break;
    case Op::kUnsubscribe:
      break;
    case Op::kRequest:
      ok = r.U32(f.timeout_ms) && r.U32(f.expected_replies) && r.Msg(f.message);
      break;
    default:
      break;
  }
  if (!ok) return Malformed("a length runs past the end of the frame");
  if (!r.AtEnd()) return Malformed("bytes left after the last field");
  return f;
}

std::string EncodeAck(std::uint32_t id) { return Writer(Op::kAck, id).Take(); }

std::string EncodeError(std::uint32_t id, const Error& error) {
  Writer w(Op::kError, id);
  w.U8(static_cast<std::uint8_t>(error.code()));
  w.Str(error.message());
  return w.Take();
}

std::string EncodeMessage(std::uint32_t id, const Message& message) {
  Writer w(Op::kMessage, id);
  w.Msg(message);
  return w.Take();
}

std::string EncodeReplies(std::uint32_t id, const std::vector<Message>& replies) {
  Writer w(Op::kReplies, id);
  w.U32(static_cast<std::uint32_t>(replies.size()));
  for (const auto& m : replies) w.Msg(m);
  return w.Take();
}

std::string EncodePublish(std::uint32_t id, const Message& message) {
  Writer w(Op::kPublish, id);
  w.Msg(message);
  return w.Take();
}

std::string EncodeSubscribe(std::uint32_t id, std::string_view pattern) {
  Writer w(Op::kSubscribe, id);
  w.Str(pattern);
  return w.Take();
}

std::string EncodeUnsubscribe(std::uint32_t id) { return Writer(Op::kUnsubscribe, id).Take(); }

std::string EncodeRequest(std::uint32_t id, const Message& message, std::uint32_t timeout_ms,
                          std::uint32_t expected_replies) {
  Writer w(Op::kRequest, id);
  w.U32(timeout_ms);
  w.U32(expected_replies);
  w.Msg(message);
  return w.Take();
}

Result<ServerFrame> DecodeServerFrame(std::string_view bytes) {
  Reader r(bytes);
  auto head = Head(r, {Op::kAck, Op::kError, Op::kMessage, Op::kReplies});
  if (!head.ok()) return head.error();
  ServerFrame f;
  f.op = head->first;
  f.id = head->second;
  bool ok = true;
  if (f.op == Op::kError) {
    ok = r.U8(f.error_code) && r.Str(f.error_text);
  } else if (f.op == Op::kMessage) {
    f.messages.emplace_back();
    ok = r.Msg(f.messages.back());
  } else if (f.op == Op::kReplies) {
    std::uint32_t n = 0;
    ok = r.U32(n);
    for (std::uint32_t i = 0; ok && i < n; ++i) {
      f.messages.emplace_back();
      ok = r.Msg(f.messages.back());
    }
  }
  if (!ok) return Malformed("a length runs past the end of the frame");
  if (!r.AtEnd()) return Malformed("bytes left after the last field");
  return f;
}

}  // namespace ferry::gateway
