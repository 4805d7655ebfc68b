// What the guest-facing functions of every interface shape do, apart from
// converting values: connect, send, request, reply. Checks guest input and
// returns errors; never traps.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"
#include "wasm/host_state.h"

namespace ferry::wasm {

// Resolves a client name through the component's grants.
Result<Broker*> ConnectClient(HostState& state, std::string_view name);

// Publishes `message` to `topic` after checking the topic and size limits.
Status SendMessage(HostState& state, Broker& broker, std::string_view topic, Message message);

// Request-reply with the interface's rules: no timeout means wait (bounded by
// the host's limit) for `expected` replies, default one; a timeout without an
// expected count collects everything that arrives until it passes.
Result<std::vector<Message>> RequestMessages(HostState& state, Broker& broker,
                                             std::string_view topic, Message message,
                                             std::optional<std::uint32_t> timeout_ms,
                                             std::optional<std::uint32_t> expected_replies);

// Sends `reply` to the reply address of `original`.
Status ReplyTo(HostState& state, const MessageEntry& original, Message reply);

// Checks data and metadata against the component's limits.
Status CheckMessageLimits(const HostState& state, const Message& message);

}  // namespace ferry::wasm
