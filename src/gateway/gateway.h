// The WebSocket gateway: lets browser pages (and any WebSocket client)
// publish, subscribe and make requests on one of the host's brokers, under
// [gateway] of ferry.toml. Framing: gateway/wire.h and docs/GATEWAY.md.
//
// Threading: `threads` I/O threads run every connection (Boost.Asio; one
// strand per connection). Broker calls that may block run elsewhere: the
// publishes, subscribes and unsubscribes of one connection in order on a
// small pool, requests on a pool of their own. Deliveries from the broker's
// thread are encoded there and handed to the connection's strand; they
// never block, so a slow browser cannot hold a broker thread: past
// `send_buffer_bytes` queued it is closed with code 4008.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "brokers/broker.h"
#include "config/config.h"
#include "ferry/result.h"

namespace ferry::gateway {

// Maps a broker name to the broker, or null; called when a client connects,
// which keeps that broker alive for as long as it stays.
using BrokerLookup = std::function<std::shared_ptr<Broker>(std::string_view name)>;

struct GatewayStats {
  std::uint64_t connections = 0;         // TCP connections open now
  std::uint64_t websockets = 0;          // of those, WebSocket sessions
  std::uint64_t accepted = 0;            // WebSocket sessions ever opened
  std::uint64_t refused = 0;             // turned away at max_connections
  std::uint64_t denied_handshakes = 0;   // bad Origin, missing or unknown token
  std::uint64_t denied_operations = 0;   // not granted: error frame, no broker call
  std::uint64_t protocol_errors = 0;     // malformed or text frames
  std::uint64_t slow_consumers = 0;      // closed with 4008
  std::uint64_t broker_subscriptions = 0;  // held now: one per pattern, shared by clients
  std::uint64_t read_pauses = 0;  // times a client's input waited for its publishes or answers
};

class Gateway {
 public:
  virtual ~Gateway() = default;
  // Binds and serves. An error (address in use, unreadable certificate)
  // leaves nothing running.
  virtual Status Start() = 0;
  // Closes every connection (code 1001), waits for broker calls in flight
  // (requests up to their timeout) and joins the threads. Idempotent.
  virtual void Stop() = 0;
  // Closes the connections that use `broker` (a reload replaces it).
  virtual void EndConnectionsTo(const Broker* broker) = 0;
  virtual std::uint16_t Port() const = 0;  // bound port, once started
  virtual GatewayStats Stats() const = 0;
  virtual const config::GatewayConfig& config() const = 0;
};

std::unique_ptr<Gateway> MakeGateway(config::GatewayConfig config, BrokerLookup find_broker);

}  // namespace ferry::gateway
