// Pipelined sends on MQTT against a real Mosquitto: a guest's QoS 1
// publishes go out without waiting for each PUBACK, the delivery it handled
// is settled only after every PUBACK came, and a publish the server refuses
// in its PUBACK (an ACL denial, reason 0x87) fails the delivery after the
// send returned.
#include <pwd.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "brokers/registry.h"
#include "brokers/conformance.h"
#include "support/faulty_broker.h"
#include "support/host_fixture.h"
#include "support/ports.h"
#include "support/send_refused.h"
#include "support/server_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

class MqttPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::uint16_t port = FreePort();
    std::string conf = "listener " + std::to_string(port) + " 127.0.0.1\n";
    if (::geteuid() == 0)
      if (const passwd* me = ::getpwuid(0)) conf += "user " + std::string(me->pw_name) + "\n";
    // Anonymous clients may use mq/... and Ferry's reply topics, nothing else.
    const auto acl = dir_.Write("acl", "topic readwrite mq/#\ntopic readwrite _ferry/#\n");
    const auto path = dir_.Write("mosquitto.conf", conf + "allow_anonymous true\nacl_file " +
                                                       acl.string() + "\n");
    server_ = std::make_unique<ServerProcess>(
        "mosquitto", std::vector<std::string>{"mosquitto", "-c", path.string()});
    server_->UsePort(port);
    ASSERT_OK(server_->Start());
    url_ = "mqtt://127.0.0.1:" + std::to_string(port);
    auto scheme = RegisterFaultyScheme(faults_, url_);
    ASSERT_OK(scheme);
    scheme_ = std::move(scheme).value();
  }
  std::unique_ptr<RunningHost> Host(const std::string& extra = "") {
    auto host = std::make_unique<RunningHost>(
        "[brokers]\ndefault = \"faulty://\"\n"
        "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
        "subscribe = [\"mq.in\"]\nretry_delay_ms = 10\n" + extra);
    EXPECT_OK(host->start_status());
    return host;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::string url_;
  std::shared_ptr<Faults> faults_ = std::make_shared<Faults>();
  std::unique_ptr<ScopedBrokerScheme> scheme_;
};

// 300 QoS 1 publishes from one delivery: many unacknowledged at once, all
// arrive, and the delivery's ack came after the last PUBACK.
TEST_F(MqttPipeline, ManySendsOfOneDeliveryAreAcknowledgedBeforeItIsSettled) {
  auto watcher = MakeBroker(url_, {});
  ASSERT_OK(watcher);
  ASSERT_OK((*watcher)->Connect());
  Sink out;
  auto sub = (*watcher)->Subscribe({.pattern = "mq.out", .manual_ack = false}, out.Handler());
  ASSERT_OK(sub);
  std::this_thread::sleep_for(200ms);
  auto h = Host();
  ASSERT_OK(h->Publish("mq.in", "burst 300 mq.out"));
  const ComponentStats st = h->SettledStats("misbehave", 1);
  EXPECT_EQ(st.handled, 1u);
  EXPECT_EQ(st.failed, 0u);
  ExpectOneAckAfterAllConfirmed(*faults_, 300);
  EXPECT_EQ(out.WaitFor(300), 300u);
}

// The ACL allows only mq/... (and Ferry's reply topics): Mosquitto answers the PUBACK with "not
// authorized" to denied/topic. The send had returned; the delivery fails, is tried again,
// and is given up.
TEST_F(MqttPipeline, APublishTheServerRefusesInItsPubackFailsTheDelivery) {
  auto h = Host("max_attempts = 2\n");
  ExpectARefusedSendFailsItsDelivery(*h, "mq.in", "burst 2 denied.topic", "the server refused a message to denied/topic");
}

}  // namespace
}  // namespace ferry::testing
