// The configuration of a Host as plain structs: what a ferry.toml says
// (README "ferry.toml" documents each key), and what a program may build in
// code instead and hand to Host::Create through HostOptions::config.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::config {

struct HostConfig {
  std::string log_level = "warn";          // off|error|warn|info|debug|trace
  std::filesystem::path control_socket;    // empty: no control socket
  std::filesystem::path cache_dir;         // empty: ~/.cache/ferry/components
  // Compiled components kept in cache_dir, in MiB; past it the entries used
  // least recently are removed (0: no limit).
  std::uint64_t cache_max_mb = 1024;
  // Control-socket clients served at once; each holds a thread. More are
  // refused with an error rather than given a thread each.
  std::uint32_t max_control_connections = 64;
  // host:port of the HTTP listener for /metrics, /healthz, /readyz and
  // /status; empty: none.
  std::string metrics;
  // Distinct topics counted by name per component; later ones count as
  // "other" (bounds the metrics page).
  std::uint32_t metrics_max_topics = 100;
  std::string log_format = "text";  // text | json (one object per line)
  // Starts a W3C trace for deliveries that carry none and logs a span line
  // per handler call. Trace context that arrives is passed on either way.
  bool tracing = false;
  // OTLP/HTTP traces URL (e.g. "http://127.0.0.1:4318/v1/traces"; one
  // without a path gets /v1/traces) that each sampled call's span is sent
  // to, as JSON; empty: spans are not exported.
  std::string otlp_endpoint;
};

struct Limits {
  std::uint64_t max_message_bytes = 8u << 20;   // payload of one message
  std::uint64_t max_metadata_bytes = 64u << 10; // keys + values of one message
  std::uint32_t queue_depth = 1024;             // deliveries buffered per component
  std::uint32_t max_request_ms = 30000;         // bound on a request with no timeout
  std::uint32_t handler_timeout_ms = 30000;     // one guest call
  std::uint64_t max_memory_bytes = 256u << 20;  // linear memory of one instance
  std::uint64_t fuel_per_call = 0;              // instruction budget per guest call (0: off)
  std::uint32_t max_in_flight = 0;              // deliveries held by the whole host (0: no cap)
  // What one instance may hold at once on the host's side.
  std::uint32_t max_guest_messages = 1024;          // message resources
  std::uint64_t max_guest_message_bytes = 64u << 20;  // data in those messages
  std::uint32_t max_guest_clients = 64;             // client resources
  std::uint32_t max_guest_request_options = 64;     // request-options resources
};

struct BrokerConfig {
  std::string name;  // what a guest passes to client.connect
  std::string url;   // mem://, nats://host:port, ...
  std::map<std::string, std::string> options;  // adapter settings (string form)
};

struct ComponentConfig {
  std::string name;                      // unique; defaults to the file stem
  std::filesystem::path path;            // absolute (resolved against the config file)
  // The component itself, when it is not in a file: used instead of
  // reading `path`, which then only names it in logs and errors (and may
  // be empty). Shared, so the host keeps no copy of its own.
  std::shared_ptr<const std::vector<std::uint8_t>> bytes;
  std::string broker;                    // broker name its subscriptions use
  std::vector<std::string> subscriptions;  // topic patterns
  std::string queue_group;               // optional: share deliveries with other hosts
  std::vector<std::string> connect;      // broker names client.connect may open
  // Capability grants: topic patterns the component may send to, request
  // on, and subscribe to itself (0.1.0 configure, reconfiguration, pulls).
  // Empty: nothing beyond its configured subscriptions and replies.
  std::vector<std::string> allow_publish;
  std::vector<std::string> allow_request;
  std::vector<std::string> allow_subscribe;
  // Where its outgoing HTTP (wasi:http) may go: "*", "host:port",
  // "host:*", "*.domain:port" or "*.domain:*". Empty: no HTTP; a request
  // gets the error code HTTP-request-denied.
  std::vector<std::string> allow_http;
  std::uint32_t workers = 1;             // instances handling messages at once
  // Async shape (WASI 0.3): handle calls one instance runs at once (each
  // of the `workers` instances).
  std::uint32_t max_concurrent_per_instance = 16;
  // Broker-specific subscription settings (JetStream stream and durable,
  // MQTT qos, ...), passed to the adapter with every subscription.
  std::map<std::string, std::string> extensions;
  // Handlers that take a list (0.1.0 shapes): up to batch_size messages per
  // call, waiting up to batch_linger for the batch to fill.
  std::uint32_t batch_size = 1;
  std::chrono::milliseconds batch_linger{0};
  // 0.1.0 shapes get a fresh instance for every handler call, as the
  // proposal describes; true keeps instances (and their memory) between calls.
  bool reuse_instances = false;
  // A failed or abandoned delivery is tried again up to max_attempts in all,
  // after retry_delay, doubling each time.
  std::uint32_t max_attempts = 5;
  std::chrono::milliseconds retry_delay{100};
  std::chrono::milliseconds max_retry_delay{10000};
  // Where a message goes once its attempts are used up, with metadata saying
  // why (on the component's broker). Empty: it is dropped, with an error log.
  std::string dead_letter;
  // Non-empty: every message the component sends is stamped as a
  // CloudEvent of this type (ce-specversion, ce-id, ce-source, ce-type,
  // ce-time), with ce-source `cloudevents_source` (default
  // "/ferry/<name>").
  std::string cloudevents_type;
  std::string cloudevents_source;
};

// What a WebSocket client may do: topic patterns, as a component's grants.
struct GatewayGrants {
  std::vector<std::string> allow_publish;    // topics it may publish to
  std::vector<std::string> allow_subscribe;  // patterns it may subscribe to (covered by one)
  std::vector<std::string> allow_request;    // topics it may send requests to
  friend bool operator==(const GatewayGrants&, const GatewayGrants&) = default;
};

// A bearer token and what its holder may do.
struct GatewayToken {
  std::string token;  // the secret itself (from `token` or the `token_env` variable)
  std::string where;  // "gateway.token[0]", for logs; never the secret
  GatewayGrants grants;
  friend bool operator==(const GatewayToken&, const GatewayToken&) = default;
};

// An allowed Origin with grants of its own for clients without a token.
struct GatewayOrigin {
  std::string origin;  // "https://app.example:8443", as browsers send it
  GatewayGrants grants;
  friend bool operator==(const GatewayOrigin&, const GatewayOrigin&) = default;
};

// [gateway]: the WebSocket endpoint for browser pages (src/gateway/,
// docs/GATEWAY.md). Off while `websocket` is empty.
struct GatewayConfig {
  std::string websocket;         // "host:port" to listen on
  std::string broker = "default";
  // Origins allowed besides those of `origins`; "*" allows any. Empty (and
  // no `origins`): only pages of the gateway's own origin (Origin's host
  // equals the Host header). Clients that send no Origin (not browsers) pass.
  std::vector<std::string> allowed_origins;
  std::vector<GatewayOrigin> origins;
  std::vector<GatewayToken> tokens;
  // Whether a client must present a token; default: when tokens are set.
  bool require_token = false;
  GatewayGrants grants;          // clients without a token
  std::filesystem::path static_dir;  // absolute; empty: no static files
  std::filesystem::path tls_cert, tls_key;  // both or neither (PEM)
  std::uint32_t max_connections = 1024;        // TCP connections at once
  std::uint64_t max_message_bytes = 1u << 20;  // one WebSocket message, either way
  std::uint64_t send_buffer_bytes = 4u << 20;  // queued for one client before it is dropped
  std::uint32_t max_subscriptions = 64;        // per connection
  std::uint32_t max_requests = 16;             // in flight per connection
  std::uint32_t publish_timeout_ms = 5000;     // a publish waits out back-pressure this long
  std::uint32_t max_request_ms = 30000;        // bound on a request's timeout
  std::uint32_t threads = 2;                   // I/O threads
  friend bool operator==(const GatewayConfig&, const GatewayConfig&) = default;
};

// A whole configuration: what ferry.toml holds, or what a program builds in
// code and gives to Host::Create (HostOptions::config). Built in code, the
// same rules apply and Host::Create checks them: every name a component
// uses is a broker here, names are unique, patterns and topics are valid.
// There, `name` of a component may be empty only when `path` gives one;
// empty `broker` means "default", empty `connect` means [broker], and
// "default" (mem://, the embedded broker) is added when missing.
struct Config {
  HostConfig host;
  Limits limits;
  std::vector<BrokerConfig> brokers;     // always holds "default" (mem:// unless set)
  std::vector<ComponentConfig> components;
  GatewayConfig gateway;

  const BrokerConfig* FindBroker(std::string_view name) const;
};

}  // namespace ferry::config
