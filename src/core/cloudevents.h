// CloudEvents in binary content mode: each broker's protocol binding names
// the event's attributes its own way; components see one set of metadata
// keys whatever the broker: "ce-id", "ce-source", "ce-type",
// "ce-specversion", "ce-time", "ce-subject", "ce-dataschema" (and "ce-"
// plus the name of any extension attribute).
//
//   binding  on the wire                    (CloudEvents protocol binding)
//   NATS     header ce-id                   the same as the metadata key
//   Kafka    header ce_id
//   AMQP     application property cloudEvents:id (cloudEvents_id is read too)
//   MQTT 5   user property id, on a message with a specversion property
//   Redis    none: metadata as it is
#pragma once

#include <string>
#include <string_view>

#include "ferry/message.h"

namespace ferry {

inline constexpr std::string_view kCloudEventsPrefix = "ce-";

enum class CloudEventsBinding { kKafka, kAmqp, kMqtt };

// The metadata to put on the wire for `in`: `in` itself when it has no
// "ce-" keys, else a copy in `storage` with those keys renamed for the
// binding.
const Metadata& CloudEventsToWire(const Metadata& in, CloudEventsBinding binding, Metadata& storage);

// Renames a received message's CloudEvents attributes to "ce-" keys.
void CloudEventsFromWire(Metadata& metadata, CloudEventsBinding binding);

// A new event id: 32 random hex digits.
std::string NewCloudEventId();
// Now, as an RFC 3339 UTC time with milliseconds.
std::string CloudEventTime();

}  // namespace ferry
