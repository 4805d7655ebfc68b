#include "wasm/v010_records.h"

#include <array>

namespace ferry::wasm {
namespace {

constexpr std::array<std::string_view, 6> kFormats{"cloudevents", "http", "amqp",
                                                   "mqtt",        "kafka", "raw"};

bool IsFormat(std::string_view name) {
  return std::find(kFormats.begin(), kFormats.end(), name) != kFormats.end();
}

const wc::Val* Field(const wc::Val& record, std::string_view name) {
  if (!record.is_record()) return nullptr;
  for (const wc::RecordField& f : record.get_record())
    if (f.name() == name) return &f.value();
  return nullptr;
}

// option<list<tuple<string, string>>> → its list, or null for none.
const wc::Val* OptionalList(const wc::Val* field) {
  if (!field || !field->is_option()) return nullptr;
  return field->get_option().value();
}

}  // namespace

wc::Val MessageToRecord(const Message& message, std::string_view tag) {
  Metadata md;
  std::vector<Metadata::Entry> entries;
  entries.reserve(message.metadata.size() + 4);
  std::string format = "raw";
  for (const auto& [k, v] : message.metadata) {
    if (k == kFormatKey && IsFormat(v)) {
      format = v;
      continue;
    }
    // Reserved keys come from the host only.
    if (k == kChannelKey || k == kDeliveryKey || k == kReplyToKey || k == kContentTypeKey) continue;
    entries.emplace_back(k, v);
  }
  entries.emplace_back(std::string(kChannelKey), message.topic);
  if (!tag.empty()) entries.emplace_back(std::string(kDeliveryKey), std::string(tag));
  if (message.content_type) entries.emplace_back(std::string(kContentTypeKey), *message.content_type);
  if (!message.reply_to.empty()) entries.emplace_back(std::string(kReplyToKey), message.reply_to);
  md.Assign(std::move(entries));
  std::vector<std::pair<std::string_view, wc::Val>> fields;
  fields.emplace_back("data", BytesToVal(message.data.span()));
  fields.emplace_back("format", wc::Val::enum_(format));
  fields.emplace_back("metadata", wc::Val(wc::WitOption(MetadataToVal(md))));
  return wc::Val(wc::Record(std::move(fields)));
}

Result<Message> RecordToMessage(const wc::Val& record, const Limits& limits) {
  const wc::Val* data = Field(record, "data");
  const wc::Val* format = Field(record, "format");
  if (!data || !format || !format->is_enum()) return Error::InvalidArgument("malformed message record");
  Message m;
  auto bytes = ValToBytes(*data, limits.max_data_bytes);
  if (!bytes.ok()) return bytes.error();
  m.data = std::move(bytes).value();
  if (const wc::Val* list = OptionalList(Field(record, "metadata"))) {
    auto md = ValToMetadata(*list, limits.max_metadata_bytes);
    if (!md.ok()) return md.error();
    m.metadata = std::move(md).value();
  }
  for (std::string_view reserved : {kChannelKey, kDeliveryKey, kReplyToKey, kFormatKey})
    m.metadata.Remove(reserved);
  if (auto ct = m.metadata.Get(kContentTypeKey)) {
    m.content_type = std::string(*ct);
    m.metadata.Remove(kContentTypeKey);
  }
  if (format->get_enum() != "raw") m.metadata.Set(std::string(kFormatKey), std::string(format->get_enum()));
  return m;
}

std::optional<std::string> RecordMetadataValue(const wc::Val& record, std::string_view key) {
  const wc::Val* list = OptionalList(Field(record, "metadata"));
  if (!list || !list->is_list()) return std::nullopt;
  for (const wc::Val& item : list->get_list()) {
    if (!item.is_tuple() || item.get_tuple().size() != 2) continue;
    const wc::Val* kv = item.get_tuple().begin();
    if (kv[0].is_string() && kv[0].get_string() == key && kv[1].is_string())
      return std::string(kv[1].get_string());
  }
  return std::nullopt;
}

Result<GuestConfiguration> RecordToConfiguration(const wc::Val& record) {
  const wc::Val* channels = Field(record, "channels");
  if (!channels || !channels->is_list())
    return Error::InvalidArgument("malformed guest-configuration record");
  GuestConfiguration gc;
  for (const wc::Val& ch : channels->get_list()) {
    if (!ch.is_string()) return Error::InvalidArgument("malformed guest-configuration record");
    gc.channels.emplace_back(ch.get_string());
  }
  if (const wc::Val* list = OptionalList(Field(record, "extensions"))) {
    auto md = ValToMetadata(*list, std::numeric_limits<std::uint64_t>::max());
    if (!md.ok()) return md.error();
    gc.extensions = md->entries();
  }
  return gc;
}

}  // namespace ferry::wasm
