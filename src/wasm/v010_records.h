// The value records of wasi:messaging@0.1.0 (and its 2024 twin): message and
// guest-configuration, and how Ferry's messages map onto them.
//
// A 0.1.0 message is a record {data, format, metadata} with no topic, content
// type or handle, so the host keeps those in metadata under reserved keys:
//   channel         the topic the message arrived on (set on delivery)
//   ferry-delivery  the tag complete-message/abandon-message find it by
//   content-type    the message's content type, both ways
//   reply-to        where a reply goes, when the sender asked for one
//   format-spec     the record's format on the wire (absent means raw)
// On send the host removes channel, ferry-delivery and reply-to (a guest
// cannot forge them) and turns content-type and format-spec back into the
// message's own fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/message.h"
#include "ferry/result.h"
#include "wasm/glue.h"
#include "wasm/guest.h"

namespace ferry::wasm {

inline constexpr std::string_view kChannelKey = "channel";
inline constexpr std::string_view kDeliveryKey = "ferry-delivery";
inline constexpr std::string_view kContentTypeKey = "content-type";
inline constexpr std::string_view kReplyToKey = "reply-to";
inline constexpr std::string_view kFormatKey = "format-spec";

// The record a guest receives for `message`, tagged with `tag`.
wc::Val MessageToRecord(const Message& message, std::string_view tag);

struct Limits {
  std::uint64_t max_data_bytes;
  std::uint64_t max_metadata_bytes;
};

// The message a guest's record describes (topic left empty). Fails on a
// malformed record or one over the limits.
Result<Message> RecordToMessage(const wc::Val& record, const Limits& limits);

// The value of `key` in a record's metadata, if the record has one.
std::optional<std::string> RecordMetadataValue(const wc::Val& record, std::string_view key);

Result<GuestConfiguration> RecordToConfiguration(const wc::Val& record);

}  // namespace ferry::wasm
