// Ferry messages and topics in AMQP 0-9-1 terms: routing and binding keys,
// the reply address, basic properties and the headers table.
#pragma once

#include <amqp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::amqp {

// A subscription pattern as a topic-exchange binding key: '*' stays, '>'
// becomes '#'. Refuses what Ferry or AMQP cannot take.
Result<std::string> BindingKey(std::string_view pattern);

// Where a Ferry topic, or a reply address, is published.
struct Destination {
  std::string exchange;
  std::string routing_key;
  std::string correlation_id;  // replies only
};
// A topic goes to `exchange` with itself as routing key. A reply address
// ("<queue>#<hex correlation id>", made by ReplyAddress) goes to the default
// exchange, i.e. straight to that queue, with the correlation id.
Result<Destination> ParseDestination(std::string_view topic, const std::string& exchange);
std::string ReplyAddress(std::string_view queue, std::string_view correlation_id);

// The basic properties of an outgoing message, with the storage they point
// into. Built on any thread; Fill runs on the I/O thread.
class OutgoingProperties {
 public:
  // Refuses metadata keys longer than AMQP's 255-byte short strings.
  static Result<std::shared_ptr<OutgoingProperties>> Make(const Message& message, bool persistent,
                                                          std::string reply_to,
                                                          std::string correlation_id,
                                                          std::string message_id);
  void Fill(amqp_basic_properties_t& props) const;

 private:
  std::vector<std::pair<std::string, std::string>> headers_;
  std::vector<amqp_table_entry_t> entries_;
  std::string content_type_, reply_to_, correlation_id_, message_id_;
  bool has_content_type_ = false;
  bool persistent_ = true;
};

// A delivered message as Ferry's: the routing key is the topic, headers are
// metadata (values that are not strings in their text form), reply_to and
// correlation_id become a reply address.
Message ToMessage(const amqp_envelope_t& envelope);

// What a delivered message's attempts are remembered by: its message id, or
// for a message without one a fingerprint of its routing key and body.
std::string MessageId(const amqp_envelope_t& envelope);

// Random hex, for message and correlation ids.
std::string RandomHex();

}  // namespace ferry::amqp
