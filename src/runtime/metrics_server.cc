#include "runtime/metrics_server.h"

#include "core/listen_address.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

namespace ferry {

MetricsServer::MetricsServer(std::string address, Snapshot snapshot)
    : address_(std::move(address)), snapshot_(std::move(snapshot)) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start() {
  auto parsed = ParseListenAddress(address_);
  if (!parsed.ok()) return parsed.error();
  const auto& [host, port] = *parsed;
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderPrometheus(snapshot_()), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const HostSnapshot s = snapshot_();
    res.status = s.ready ? 200 : 503;
    res.set_content(s.ready ? std::string("ready\n") : "not ready: " + s.not_ready_because + "\n", "text/plain");
  });
  server_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderJson(snapshot_()), "application/json");
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ <= 0) port_ = 0;
  } else if (server_->bind_to_port(host, port)) {
    port_ = port;
  }
  if (port_ == 0) {
    server_.reset();
    return Error::Connection("cannot listen on " + address_ +
                             " for metrics: the address is in use or not one of this machine's");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() only ends a server that is already listening: wait for that, so
  // a Stop right after Start cannot miss it.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("metrics on http://{}:{}/metrics, health on /healthz and /readyz", host, port_);
  return Status::Ok();
}

void MetricsServer::Stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace ferry
