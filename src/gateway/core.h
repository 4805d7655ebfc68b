// Internal: the state every gateway connection shares, and the Asio/Beast
// names. Included only by gateway.cc (through ws_session.h): Beast is heavy
// to compile, so it stays in one translation unit.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "gateway/access.h"
#include "gateway/gateway.h"
#include "gateway/hub.h"

namespace ferry::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// Requests in flight across the gateway, each holding a thread of the
// request pool while its broker call waits for replies.
inline constexpr std::uint32_t kRequestThreads = 32;
// Publishes of one connection waiting for the broker before its reading
// pauses (TCP then holds the client back).
inline constexpr std::uint32_t kMaxPendingPublishes = 64;

// What a WebSocket session offers the gateway: closing it from outside,
// and taking deliveries from the hub.
class SessionBase : public Sink {
 public:
  virtual ~SessionBase() = default;
  // Any thread: closes with `code` on the session's own strand.
  virtual void Close(std::uint16_t code, std::string reason) = 0;
  // Any thread: ends its subscriptions now (no delivery starts afterwards);
  // ones being made end as soon as they exist.
  virtual void DropSubscriptions() = 0;
  virtual const Broker* broker() const = 0;
};

struct Counters {
  std::atomic<std::uint64_t> connections{0}, websockets{0}, accepted{0}, refused{0},
      denied_handshakes{0}, denied_operations{0}, protocol_errors{0}, slow_consumers{0},
      read_pauses{0};
};

// Counts a TCP connection for max_connections while it lives.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(Counters& c) : counters_(&c) { ++counters_->connections; }
  ConnectionSlot(ConnectionSlot&& o) noexcept : counters_(std::exchange(o.counters_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (counters_) --counters_->connections;
  }

 private:
  Counters* counters_;
};

// Destroyed after every session (the gateway joins its threads first, then
// drops the io_context, whose pending handlers hold the last sessions).
struct Core {
  Core(config::GatewayConfig c, BrokerLookup lookup)
      : config(std::move(c)), policy(config), find_broker(std::move(lookup)) {}

  const config::GatewayConfig config;
  const AccessPolicy policy;
  const BrokerLookup find_broker;
  Counters counters;
  std::atomic<std::uint32_t> requests_in_flight{0};
  std::atomic<bool> stopping{false};
  std::optional<ssl::context> tls;  // set when tls_cert is
  SubscriptionHub hub;

  void Register(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard lock(sessions_mutex);
    std::erase_if(sessions, [](const auto& w) { return w.expired(); });
    sessions.push_back(s);
  }
  std::vector<std::shared_ptr<SessionBase>> LiveSessions() {
    std::lock_guard lock(sessions_mutex);
    std::vector<std::shared_ptr<SessionBase>> out;
    for (auto& w : sessions)
      if (auto s = w.lock()) out.push_back(std::move(s));
    return out;
  }

  std::mutex sessions_mutex;
  std::vector<std::weak_ptr<SessionBase>> sessions;

  // Declared last: destroyed first, so queued work finds the rest alive.
  net::thread_pool publish_pool{2};
  net::thread_pool request_pool{kRequestThreads};
  net::io_context ioc;
};

}  // namespace ferry::gateway
