#include "brokers/rabbitmq/amqp_message.h"

#include <atomic>
#include <random>

#include <fmt/format.h>

#include "brokers/rabbitmq/amqp_link.h"
#include "core/cloudevents.h"
#include "core/topic.h"

namespace ferry::amqp {
namespace {

constexpr std::size_t kMaxShortString = 255;

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

Result<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2) return Error::InvalidArgument("reply address: odd-length correlation id");
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (char c : hex.substr(i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return Error::InvalidArgument("reply address: correlation id is not hex");
    }
    out += static_cast<char>(v);
  }
  return out;
}

std::string FieldText(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return Str(v.value.bytes);
    case AMQP_FIELD_KIND_BOOLEAN: return v.value.boolean ? "true" : "false";
    case AMQP_FIELD_KIND_I8: return std::to_string(v.value.i8);
    case AMQP_FIELD_KIND_U8: return std::to_string(v.value.u8);
    case AMQP_FIELD_KIND_I16: return std::to_string(v.value.i16);
    case AMQP_FIELD_KIND_U16: return std::to_string(v.value.u16);
    case AMQP_FIELD_KIND_I32: return std::to_string(v.value.i32);
    case AMQP_FIELD_KIND_U32: return std::to_string(v.value.u32);
    case AMQP_FIELD_KIND_I64: return std::to_string(v.value.i64);
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: return std::to_string(v.value.u64);
    case AMQP_FIELD_KIND_F32: return fmt::format("{}", v.value.f32);
    case AMQP_FIELD_KIND_F64: return fmt::format("{}", v.value.f64);
    case AMQP_FIELD_KIND_VOID: return "";
    default: return "(" + std::string(1, static_cast<char>(v.kind)) + " value)";  // tables, arrays
  }
}

}  // namespace

std::string RandomHex() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static std::atomic<std::uint64_t> counter{0};
  return fmt::format("{:016x}{:x}", rng(), counter.fetch_add(1, std::memory_order_relaxed));
}

Result<std::string> BindingKey(std::string_view pattern) {
  FERRY_RETURN_IF_ERROR(ValidatePattern(pattern));
  if (pattern.size() > kMaxShortString)
    return Error::InvalidArgument("pattern '" + std::string(pattern) +
                                  "' is longer than AMQP's 255-byte binding key");
  std::string key;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = pattern.find('.', start);
    const std::string_view token = pattern.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (token.find('#') != std::string_view::npos)
      return Error::InvalidArgument("pattern '" + std::string(pattern) +
                                    "' has a '#', AMQP's wildcard (Ferry writes it '>')");
    if (!key.empty() || start > 0) key += '.';
    key += token == ">" ? std::string_view("#") : token;
    if (dot == std::string_view::npos) return key;
    start = dot + 1;
  }
}

Result<Destination> ParseDestination(std::string_view topic, const std::string& exchange) {
  if (const auto hash = topic.rfind('#'); hash != std::string_view::npos) {
    auto correlation = Unhex(topic.substr(hash + 1));
    if (!correlation.ok()) return correlation.error();
    const std::string_view queue = topic.substr(0, hash);
    if (queue.empty() || queue.size() > kMaxShortString)
      return Error::InvalidArgument("reply address '" + std::string(topic) + "' names no queue");
    return Destination{"", std::string(queue), std::move(*correlation)};
  }
  FERRY_RETURN_IF_ERROR(ValidateTopic(topic));
  if (topic.size() > kMaxShortString)
    return Error::InvalidArgument("topic '" + std::string(topic.substr(0, 40)) +
                                  "...' is longer than AMQP's 255-byte routing key");
  return Destination{exchange, std::string(topic), {}};
}

std::string ReplyAddress(std::string_view queue, std::string_view correlation_id) {
  return std::string(queue) + "#" + Hex(correlation_id);
}

Result<std::shared_ptr<OutgoingProperties>> OutgoingProperties::Make(
    const Message& message, bool persistent, std::string reply_to, std::string correlation_id,
    std::string message_id) {
  auto p = std::make_shared<OutgoingProperties>();
  p->headers_.reserve(message.metadata.size());
  Metadata renamed;
  for (const auto& [key, value] : CloudEventsToWire(message.metadata, CloudEventsBinding::kAmqp, renamed)) {
    if (key.size() > kMaxShortString)
      return Error::InvalidArgument("metadata key '" + key.substr(0, 40) +
                                    "...' is longer than AMQP's 255-byte header names");
    p->headers_.emplace_back(key, value);
  }
  p->entries_.reserve(p->headers_.size());
  for (const auto& [key, value] : p->headers_) {
    amqp_table_entry_t e{};
    e.key = AmqpBytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = AmqpBytes(value);
    p->entries_.push_back(e);
  }
  if (message.content_type) {
    if (message.content_type->size() > kMaxShortString)
      return Error::InvalidArgument("content type is longer than AMQP's 255 bytes");
    p->content_type_ = *message.content_type;
    p->has_content_type_ = true;
  }
  if (reply_to.size() > kMaxShortString || correlation_id.size() > kMaxShortString)
    return Error::InvalidArgument("reply address or correlation id longer than 255 bytes");
  p->reply_to_ = std::move(reply_to);
  p->correlation_id_ = std::move(correlation_id);
  p->message_id_ = std::move(message_id);
  p->persistent_ = persistent;
  return p;
}

void OutgoingProperties::Fill(amqp_basic_properties_t& props) const {
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = persistent_ ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
  if (!entries_.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers.num_entries = static_cast<int>(entries_.size());
    props.headers.entries = const_cast<amqp_table_entry_t*>(entries_.data());
  }
  if (has_content_type_) {
    props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = AmqpBytes(content_type_);
  }
  if (!reply_to_.empty()) {
    props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
    props.reply_to = AmqpBytes(reply_to_);
  }
  if (!correlation_id_.empty()) {
    props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    props.correlation_id = AmqpBytes(correlation_id_);
  }
  if (!message_id_.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = AmqpBytes(message_id_);
  }
}

Message ToMessage(const amqp_envelope_t& envelope) {
  Message out;
  out.topic = Str(envelope.routing_key);
  const amqp_bytes_t& body = envelope.message.body;
  const auto* bytes = static_cast<const std::uint8_t*>(body.bytes);
  out.data = ferry::Bytes(std::vector<std::uint8_t>(bytes, bytes + body.len));
  const amqp_basic_properties_t& p = envelope.message.properties;
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) out.content_type = Str(p.content_type);
  if (p._flags & AMQP_BASIC_HEADERS_FLAG)
    for (int i = 0; i < p.headers.num_entries; ++i)
      out.metadata.Set(Str(p.headers.entries[i].key), FieldText(p.headers.entries[i].value));
  CloudEventsFromWire(out.metadata, CloudEventsBinding::kAmqp);
  if ((p._flags & AMQP_BASIC_REPLY_TO_FLAG) && p.reply_to.len > 0)
    out.reply_to = ReplyAddress(
        Str(p.reply_to),
        (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) ? Str(p.correlation_id) : std::string());
  return out;
}

std::string MessageId(const amqp_envelope_t& envelope) {
  const amqp_basic_properties_t& p = envelope.message.properties;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) return Str(p.message_id);
  // A message from a client that sets no message_id: its routing key and
  // body stand in (FNV-1a), so its redeliveries still count up to
  // max_attempts. The NUL prefix keeps it apart from any real message_id.
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const amqp_bytes_t& b) {
    const auto* bytes = static_cast<const unsigned char*>(b.bytes);
    for (std::size_t i = 0; i < b.len; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
  };
  mix(envelope.routing_key);
  mix(envelope.message.body);
  return std::string(1, '\0') + "fp:" + std::to_string(h);
}

}  // namespace ferry::amqp
