#include "gateway/gateway.h"

#include <thread>

#include <spdlog/spdlog.h>

#include "core/listen_address.h"
#include "gateway/core.h"
#include "gateway/static_files.h"
#include "gateway/ws_session.h"

namespace ferry::gateway {
namespace {

// Plain TCP: shut down, then close. TLS: closing the socket suffices for
// a connection that is over (no close_notify: nothing is left to protect).
void CloseStream(beast::tcp_stream& s) {
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  s.close();
}
void CloseStream(beast::ssl_stream<beast::tcp_stream>& s) { beast::get_lowest_layer(s).close(); }

std::optional<std::string> BearerToken(const http::request<http::string_body>& req) {
  auto it = req.find(http::field::authorization);
  if (it != req.end()) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.starts_with("Bearer ")) return std::string(v.substr(7));
  }
  return QueryParameter(std::string_view(req.target().data(), req.target().size()), "access_token");
}

// One TCP connection until it upgrades to a WebSocket: reads HTTP requests,
// answers GETs (client script, static files), and checks and hands over an
// upgrade. Runs on the connection's strand.
template <class Stream>
class HttpSession final : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  // `refuse`: the gateway is at max_connections; the request is read and
  // answered 503 (answering before reading would reset the connection, and
  // the client would not see why).
  HttpSession(Core& core, Stream stream, ConnectionSlot slot, std::string peer, bool refuse = false)
      : core_(core), stream_(std::move(stream)), slot_(std::move(slot)), peer_(std::move(peer)),
        refuse_(refuse) {}

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      Read();
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  spdlog::debug("gateway: TLS handshake with {} failed: {}",
                                                self->peer_, ec.message());
                                  return CloseStream(self->stream_);
                                }
                                self->Read();
                              });
    }
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(4096);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(refuse_ ? 5 : 30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return CloseStream(self->stream_);
                       self->OnRequest(self->parser_->release());
                     });
  }

  void OnRequest(http::request<http::string_body> req) {
    if (refuse_) {
      req.keep_alive(false);
      return Respond(req, {503, "text/plain; charset=utf-8",
                           "the gateway is at its limit of connections (gateway.max_connections); "
                           "retry later\n"});
    }
    if (websocket::is_upgrade(req)) return Upgrade(std::move(req));
    if (req.method() != http::verb::get)
      return Respond(req, {405, "text/plain; charset=utf-8", "only GET and WebSocket upgrades\n"});
    Respond(req, ServeGet(core_.config.static_dir,
                          std::string_view(req.target().data(), req.target().size())));
  }

  void Upgrade(http::request<http::string_body> req) {
    Handshake h;
    if (auto it = req.find(http::field::origin); it != req.end())
      h.origin = std::string(it->value());
    h.host = std::string(req[http::field::host]);
    h.token = BearerToken(req);
    h.tls = !std::is_same_v<Stream, beast::tcp_stream>;
    auto who = core_.policy.Admit(h);
    if (!who.ok()) {
      ++core_.counters.denied_handshakes;
      const bool origin = who.error().code() == ErrorCode::kPermissionDenied;
      spdlog::info("gateway: refused {}: {}", peer_, who.error().message());
      req.keep_alive(false);
      return Respond(req, {origin ? 403u : 401u, "text/plain; charset=utf-8",
                           who.error().message() + "\n"});
    }
    std::shared_ptr<Broker> broker = core_.find_broker(core_.config.broker);
    if (!broker || core_.stopping) {
      req.keep_alive(false);
      return Respond(req, {503, "text/plain; charset=utf-8",
                           "the gateway's broker \"" + core_.config.broker + "\" is not running\n"});
    }
    std::make_shared<WsSession<Stream>>(core_, std::move(stream_), std::move(who).value(),
                                        std::move(broker), std::move(slot_), peer_)
        ->Run(std::move(req));
  }

  void Respond(const http::request<http::string_body>& req, HttpReply reply) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), req.version());
    res->set(http::field::server, "ferry");
    res->set(http::field::content_type, reply.content_type);
    res->set(http::field::cache_control, "no-cache");
    res->set("X-Content-Type-Options", "nosniff");
    res->keep_alive(req.keep_alive());
    res->body() = std::move(reply.body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec || !res->keep_alive()) return CloseStream(self->stream_);
                        self->Read();
                      });
  }

  Core& core_;
  Stream stream_;
  ConnectionSlot slot_;
  const std::string peer_;
  const bool refuse_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

Result<tcp::endpoint> ResolveListen(net::io_context& ioc, const std::string& address) {
  auto parsed = ParseListenAddress(address);
  if (!parsed.ok()) return parsed.error().WithContext("gateway.websocket");
  const std::string host = parsed->first;
  const std::string port = std::to_string(parsed->second);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
  if (ec || results.empty())
    return Error::InvalidArgument("gateway.websocket: cannot resolve \"" + host + "\": " + ec.message());
  return results.begin()->endpoint();
}

class GatewayImpl final : public Gateway {
 public:
  GatewayImpl(config::GatewayConfig config, BrokerLookup find_broker)
      : core_(std::make_unique<Core>(std::move(config), std::move(find_broker))) {}
  ~GatewayImpl() override { Stop(); }

  Status Start() override {
    if (acceptor_) return Error::FailedPrecondition("the gateway is already started");
    const auto& c = core_->config;
    if (!c.tls_cert.empty()) {
      core_->tls.emplace(ssl::context::tls_server);
      beast::error_code ec;
      core_->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                              ssl::context::no_tlsv1_1);
      core_->tls->use_certificate_chain_file(c.tls_cert.string(), ec);
      if (ec)
        return Error::InvalidArgument("gateway.tls_cert: cannot use " + c.tls_cert.string() + ": " +
                                      ec.message());
      core_->tls->use_private_key_file(c.tls_key.string(), ssl::context::pem, ec);
      if (ec)
        return Error::InvalidArgument("gateway.tls_key: cannot use " + c.tls_key.string() + ": " +
                                      ec.message());
    }
    auto endpoint = ResolveListen(core_->ioc, c.websocket);
    if (!endpoint.ok()) return endpoint.error();
    auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(core_->ioc));
    beast::error_code ec;
    acceptor->open(endpoint->protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(*endpoint, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return Error::FailedPrecondition("gateway.websocket: cannot listen on " + c.websocket + ": " +
                                       ec.message());
    port_ = acceptor->local_endpoint().port();
    acceptor_ = std::move(acceptor);
    Accept();
    for (std::uint32_t i = 0; i < c.threads; ++i) threads_.emplace_back([this] { core_->ioc.run(); });
    spdlog::info("gateway listening on {}://{} (broker {})", c.tls_cert.empty() ? "ws" : "wss",
                 c.websocket, c.broker);
    return Status::Ok();
  }

  void Stop() override {
    if (!acceptor_ || core_->stopping) return;
    core_->stopping = true;
    net::post(acceptor_->get_executor(), [this] {
      beast::error_code ec;
      acceptor_->close(ec);
    });
    // No delivery may reach a session once the threads are gone.
    for (auto& s : core_->LiveSessions()) s->DropSubscriptions();
    for (auto& s : core_->LiveSessions()) s->Close(1001, "ferry is stopping");
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (core_->counters.websockets > 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    core_->ioc.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    core_->publish_pool.join();
    core_->request_pool.join();
  }

  void EndConnectionsTo(const Broker* broker) override {
    for (auto& s : core_->LiveSessions()) {
      if (s->broker() != broker) continue;
      s->DropSubscriptions();
      s->Close(1012, "ferry is restarting its broker");
    }
  }

  std::uint16_t Port() const override { return port_; }

  GatewayStats Stats() const override {
    const Counters& c = core_->counters;
    return {c.connections.load(),       c.websockets.load(),        c.accepted.load(),
            c.refused.load(),           c.denied_handshakes.load(), c.denied_operations.load(),
            c.protocol_errors.load(),   c.slow_consumers.load(),    core_->hub.Size(),
            c.read_pauses.load()};
  }

  const config::GatewayConfig& config() const override { return core_->config; }

 private:
  void Accept() {
    acceptor_->async_accept(net::make_strand(core_->ioc),
                            [this](beast::error_code ec, tcp::socket socket) {
                              if (ec == net::error::operation_aborted || core_->stopping) return;
                              if (!ec) OnAccept(std::move(socket));
                              Accept();
                            });
  }

  void OnAccept(tcp::socket socket) {
    beast::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    std::string peer = ec ? "a client" : remote.address().to_string() + ":" + std::to_string(remote.port());
    if (core_->counters.connections >= core_->config.max_connections) {
      ++core_->counters.refused;
      const auto now = Clock::now();
      if (now - last_refusal_log_ > std::chrono::seconds(10))
        spdlog::warn("gateway: refusing connections, {} are open (gateway.max_connections)",
                     core_->config.max_connections);
      last_refusal_log_ = now;
      // No TLS handshake spent on a refusal, nor more than 64 answers at once.
      if (core_->tls || refusals_.connections >= 64) {
        socket.close(ec);
        return;
      }
      std::make_shared<HttpSession<beast::tcp_stream>>(*core_, beast::tcp_stream(std::move(socket)),
                                                       ConnectionSlot(refusals_), std::move(peer), true)
          ->Run();
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ConnectionSlot slot(core_->counters);
    if (core_->tls) {
      std::make_shared<HttpSession<beast::ssl_stream<beast::tcp_stream>>>(
          *core_, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *core_->tls), std::move(slot),
          std::move(peer))
          ->Run();
    } else {
      std::make_shared<HttpSession<beast::tcp_stream>>(*core_, beast::tcp_stream(std::move(socket)),
                                                       std::move(slot), std::move(peer))
          ->Run();
    }
  }

  // Refusals being answered, apart from connections; declared first so the
  // sessions (destroyed with core_) find it alive.
  Counters refusals_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<tcp::acceptor> acceptor_;  // its strand only, once started
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  Clock::time_point last_refusal_log_{};  // acceptor strand only
};

}  // namespace

std::unique_ptr<Gateway> MakeGateway(config::GatewayConfig config, BrokerLookup find_broker) {
  return std::make_unique<GatewayImpl>(std::move(config), std::move(find_broker));
}

}  // namespace ferry::gateway
