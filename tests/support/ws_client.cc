#include "support/ws_client.h"

#include <fstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace ferry::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// One per thread: clients run their operations on it, one at a time.
net::io_context& Io() {
  thread_local net::io_context ioc;
  return ioc;
}

ssl::context& TlsContext() {
  static ssl::context ctx = [] {
    ssl::context c(ssl::context::tls_client);
    c.set_verify_mode(ssl::verify_none);
    return c;
  }();
  return ctx;
}

// Runs the async operation `start` (which takes a completion handler) on
// the thread's io_context until it completes; `stream`'s expiry bounds it.
template <class Start>
beast::error_code Run(beast::tcp_stream& stream, std::chrono::milliseconds timeout, Start start) {
  beast::error_code result;
  stream.expires_after(timeout);
  start([&](beast::error_code ec, auto&&...) { result = ec; });
  Io().restart();
  Io().run();
  stream.expires_never();
  return result;
}

template <class Layer>
class Client final : public WsClient {
 public:
  template <class... Args>
  explicit Client(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  Status Open(std::uint16_t port, const WsOptions& o) {
    auto& tcp_layer = beast::get_lowest_layer(ws_);
    beast::error_code ec = Run(tcp_layer, o.timeout, [&](auto handler) {
      tcp_layer.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), handler);
    });
    if (ec) return Error::Connection("connect: " + ec.message());
    if constexpr (!std::is_same_v<Layer, beast::tcp_stream>) {
      ec = Run(tcp_layer, o.timeout,
               [&](auto handler) { ws_.next_layer().async_handshake(ssl::stream_base::client, handler); });
      if (ec) return Error::Connection("TLS handshake: " + ec.message());
    }
    ws_.set_option(websocket::stream_base::decorator([o](websocket::request_type& req) {
      if (o.origin) req.set(http::field::origin, *o.origin);
      if (o.bearer) req.set(http::field::authorization, "Bearer " + *o.bearer);
    }));
    websocket::response_type res;
    ec = Run(tcp_layer, o.timeout, [&](auto handler) {
      ws_.async_handshake(res, "127.0.0.1:" + std::to_string(port), o.target, handler);
    });
    if (ec) {
      if (res.result_int() != 0 && res.result_int() != 101)
        return Error::FailedPrecondition(std::to_string(res.result_int()) + " " + res.body());
      return Error::Connection("handshake: " + ec.message());
    }
    ws_.read_message_max(64u << 20);
    return Status::Ok();
  }

  Status SendBinary(std::string_view frame) override { return Send(frame, true); }
  Status SendText(std::string_view text) override { return Send(text, false); }

  Result<std::string> Read(std::chrono::milliseconds timeout) override {
    beast::flat_buffer buffer;
    beast::error_code ec = Run(beast::get_lowest_layer(ws_), timeout,
                               [&](auto handler) { ws_.async_read(buffer, handler); });
    // A close frame may have come before the transport failed (the gateway
    // resets a connection whose unread input it drops): its code counts.
    if (ec && ws_.reason().code != 0) {
      close_code_ = ws_.reason().code;
      return Error::Connection("closed by the gateway with " + std::to_string(close_code_) + " " +
                               std::string(ws_.reason().reason.data(), ws_.reason().reason.size()));
    }
    if (ec) return Error::Connection("read: " + ec.message());
    return beast::buffers_to_string(buffer.data());
  }

  int close_code() const override { return close_code_; }

  void Close() override {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).close();
  }

 private:
  Status Send(std::string_view data, bool binary) {
    ws_.binary(binary);
    beast::error_code ec = Run(beast::get_lowest_layer(ws_), std::chrono::seconds(10), [&](auto handler) {
      ws_.async_write(net::buffer(data.data(), data.size()), handler);
    });
    if (ec) return Error::Connection("write: " + ec.message());
    return Status::Ok();
  }

  websocket::stream<Layer> ws_;
  int close_code_ = 0;
};

}  // namespace

Result<std::unique_ptr<WsClient>> WsClient::Connect(std::uint16_t port, const WsOptions& options) {
  if (options.tls) {
    auto c = std::make_unique<Client<beast::ssl_stream<beast::tcp_stream>>>(Io(), TlsContext());
    FERRY_RETURN_IF_ERROR(c->Open(port, options));
    return std::unique_ptr<WsClient>(std::move(c));
  }
  auto c = std::make_unique<Client<beast::tcp_stream>>(Io());
  FERRY_RETURN_IF_ERROR(c->Open(port, options));
  return std::unique_ptr<WsClient>(std::move(c));
}

Result<gateway::ServerFrame> WsClient::Next(std::chrono::milliseconds timeout) {
  if (!set_aside_.empty()) {
    gateway::ServerFrame f = std::move(set_aside_.front());
    set_aside_.pop_front();
    return f;
  }
  auto raw = Read(timeout);
  if (!raw.ok()) return raw.error();
  return gateway::DecodeServerFrame(*raw);
}

Result<gateway::ServerFrame> WsClient::AnswerTo(std::uint32_t id, std::chrono::milliseconds timeout) {
  for (auto it = set_aside_.begin(); it != set_aside_.end(); ++it) {
    if (it->op == gateway::Op::kMessage || it->id != id) continue;
    gateway::ServerFrame f = std::move(*it);
    set_aside_.erase(it);
    return f;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error::Timeout("no answer to frame " + std::to_string(id));
    auto raw = Read(left);
    if (!raw.ok()) return raw.error();
    auto frame = gateway::DecodeServerFrame(*raw);
    if (!frame.ok()) return frame.error();
    if (frame->op != gateway::Op::kMessage && frame->id == id) return frame;
    set_aside_.push_back(std::move(*frame));
  }
}

Result<HttpResult> HttpGet(std::uint16_t port, const std::string& target) {
  beast::tcp_stream stream(Io());
  beast::error_code ec = Run(stream, std::chrono::seconds(10), [&](auto handler) {
    stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), handler);
  });
  if (ec) return Error::Connection("connect: " + ec.message());
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.keep_alive(false);
  ec = Run(stream, std::chrono::seconds(10), [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) return Error::Connection("write: " + ec.message());
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  ec = Run(stream, std::chrono::seconds(10), [&](auto handler) { http::async_read(stream, buffer, res, handler); });
  if (ec) return Error::Connection("read: " + ec.message());
  return HttpResult{res.result_int(), std::string(res[http::field::content_type]), res.body()};
}

std::uint64_t ResidentKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
  return 0;
}

}  // namespace ferry::testing
