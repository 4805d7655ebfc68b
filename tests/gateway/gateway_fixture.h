// A gateway over a real embedded broker, for the gateway's tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "brokers/mem/mem_broker.h"
#include "gateway/gateway.h"
#include "gateway/wire.h"
#include "support/matchers.h"
#include "support/ports.h"
#include "support/ws_client.h"

namespace ferry::testing {

inline Message Msg(const std::string& topic, const std::string& data) {
  Message m;
  m.topic = topic;
  m.data = Bytes::FromString(data);
  return m;
}

// What a direct subscription on the broker saw: proof of what reached it.
class BrokerTap {
 public:
  BrokerTap(Broker& broker, const std::string& pattern) {
    SubscribeOptions o;
    o.pattern = pattern;
    o.manual_ack = false;
    auto sub = broker.Subscribe(o, [this](Delivery d) {
      std::lock_guard lock(mutex_);
      seen_.push_back(d.message);
      cv_.notify_all();
    });
    EXPECT_OK(sub);
    if (sub.ok()) sub_ = std::move(*sub);
  }
  std::vector<Message> WaitFor(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return seen_.size() >= n; });
    return seen_;
  }
  std::vector<Message> Seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> seen_;
  std::unique_ptr<Subscription> sub_;
};

// Everything granted unless a test says otherwise.
inline config::GatewayConfig OpenGatewayConfig() {
  config::GatewayConfig c;
  c.websocket = "127.0.0.1:" + std::to_string(FreePort());
  c.grants.allow_publish = {">"};
  c.grants.allow_subscribe = {">"};
  c.grants.allow_request = {">"};
  return c;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(broker_->Connect()); }
  void TearDown() override {
    if (gateway_) gateway_->Stop();
  }

  void Start(config::GatewayConfig config) {
    gateway_ = gateway::MakeGateway(std::move(config), [this](std::string_view name) -> std::shared_ptr<Broker> {
      return name == "default" ? broker_ : nullptr;
    });
    ASSERT_OK(gateway_->Start());
  }

  std::unique_ptr<WsClient> Connect(const WsOptions& o = {}) {
    auto c = WsClient::Connect(gateway_->Port(), o);
    EXPECT_OK(c);
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Waits (generously) until `done` holds for the gateway's counters.
  template <class Pred>
  gateway::GatewayStats WaitForStats(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done(gateway_->Stats()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return gateway_->Stats();
  }

  std::shared_ptr<Broker> broker_ = MakeMemBroker({});
  std::unique_ptr<gateway::Gateway> gateway_;
};

}  // namespace ferry::testing
