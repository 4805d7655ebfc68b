// What the guest-facing functions of every interface shape do, apart from
// converting values: connect, send, request, reply. Checks guest input and
// returns errors; never traps.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"
#include "wasm/host_state.h"

namespace ferry::wasm {

// Resolves a client name through the component's grants.
Result<Broker*> ConnectClient(HostState& state, std::string_view name);

// Every wait below (a publish held by flow control, a request's replies, a
// pull) ends a little before the current guest call's deadline; a wait cut
// short by it is the interface's timeout error.

// Publishes `message` to `topic` after checking the topic and size limits.
// `message` becomes what was sent (its topic, no reply address, stamps), so
// a second try sends the same message again.
Status SendMessage(HostState& state, Broker& broker, std::string_view topic, Message& message);

// Publishes `messages` to `topic` in order. Every message is checked before
// the first is sent, so a bad one in the middle leaves nothing half-sent. A
// message the broker refuses with a Connection error is tried again (3
// tries, 20 ms apart, within the call's time left), so a send refused
// partway resumes from the refused message and never sends the ones before
// it twice. A failure that remains names the message and how many went out
// before it (the guest may then fail its handler, and its retry sends them
// again: at least once, as any retry).
Status SendMessages(HostState& state, Broker& broker, std::string_view topic,
                    std::span<Message> messages);

// Request-reply with the interface's rules: no timeout means wait (bounded by
// max_request_ms and the call's time left) for `expected` replies, default
// one; a timeout without an expected count collects everything that arrives
// until it passes.
Result<std::vector<Message>> RequestMessages(HostState& state, Broker& broker,
                                             std::string_view topic, Message message,
                                             std::optional<std::uint32_t> timeout_ms,
                                             std::optional<std::uint32_t> expected_replies);

// Sends `reply` to `reply_to` on `origin`, the broker the request came from.
Status ReplyTo(HostState& state, Broker* origin, std::string_view reply_to, Message reply);

// Checks data and metadata against the component's limits.
Status CheckMessageLimits(const HostState& state, const Message& message);

}  // namespace ferry::wasm

namespace ferry::wasm {

// Subscribes to `pattern` on `broker` for as long as it takes one message to
// arrive, bounded by `wait` and the current call's deadline. Returns every
// message that arrived meanwhile (at-most-once: the ephemeral subscription
// consumes them), empty when none did.
Result<std::vector<Message>> PullMessages(HostState& state, Broker& broker, std::string_view pattern,
                                          std::chrono::milliseconds wait);

}  // namespace ferry::wasm
