// Pipelined sends on JetStream against a real nats-server: a guest's sends
// return once in the connection's window of unconfirmed publishes
// (js_PublishMsgAsync), and the delivery they came from is acked only once
// the stream acknowledged every one. The FaultyBroker wraps the NATS broker
// to watch the order of confirmations and acks; it injects nothing here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <string>

#include "support/faulty_broker.h"
#include "support/host_fixture.h"
#include "support/send_refused.h"
#include "support/server_process.h"

namespace ferry::testing {
namespace {

std::string Url(const ServerProcess& server) {
  return "nats://127.0.0.1:" + std::to_string(server.port());
}

// Makes a stream over `subjects` and returns how many messages it holds
// (-1 on failure) when asked again.
class Streams {
 public:
  explicit Streams(const ServerProcess& server) {
    EXPECT_EQ(natsConnection_ConnectTo(&conn_, Url(server).c_str()), NATS_OK);
    EXPECT_EQ(natsConnection_JetStream(&js_, conn_, nullptr), NATS_OK);
  }
  ~Streams() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(conn_);
  }
  void Add(const std::string& name, const std::string& subjects) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    const char* list[] = {subjects.c_str()};
    cfg.Subjects = list;
    cfg.SubjectsLen = 1;
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    EXPECT_EQ(js_AddStream(&info, js_, &cfg, nullptr, &code), NATS_OK) << code;
    jsStreamInfo_Destroy(info);
  }
  std::int64_t Count(const std::string& name) {
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&info, js_, name.c_str(), nullptr, &code) != NATS_OK) return -1;
    const auto n = static_cast<std::int64_t>(info->State.Msgs);
    jsStreamInfo_Destroy(info);
    return n;
  }

 private:
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
};

class NatsPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(server_.Start());
    streams_ = std::make_unique<Streams>(server_);
    streams_->Add("PIN", "pin.>");
    streams_->Add("POUT", "pout.>");
  }
  void Register() {
    auto scheme = RegisterFaultyScheme(faults_, Url(server_));
    ASSERT_OK(scheme);
    scheme_ = std::move(scheme).value();
  }
  std::unique_ptr<RunningHost> Host(const std::string& broker_settings, const std::string& extra) {
    auto host = std::make_unique<RunningHost>(
        "[brokers]\ndefault = { url = \"faulty://\", jetstream = \"pin.>,pout.>,lost.>\"" +
        broker_settings +
        " }\n[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
        "subscribe = [\"pin.a\"]\nretry_delay_ms = 10\nextensions = { stream = \"PIN\" }\n" + extra);
    EXPECT_OK(host->start_status());
    return host;
  }

  ServerProcess server_{"nats-server",
                        {"nats-server", "-a", "127.0.0.1", "-p", "$PORT", "-js", "-sd", "$DIR/js"}};
  std::unique_ptr<Streams> streams_;
  std::shared_ptr<Faults> faults_ = std::make_shared<Faults>();
  std::unique_ptr<ScopedBrokerScheme> scheme_;
};

// One delivery sends 300 messages into a stream. They were out unconfirmed
// together, all 300 were stored, and the delivery's ack came after the
// stream's last acknowledgement.
TEST_F(NatsPipeline, ManySendsOfOneDeliveryAreStoredBeforeItsAck) {
  Register();
  auto h = Host("", "");
  ASSERT_OK(h->Publish("pin.a", "burst 300 pout.a"));
  const ComponentStats st = h->SettledStats("misbehave", 1);
  EXPECT_EQ(st.handled, 1u);
  EXPECT_EQ(st.failed, 0u);
  ExpectOneAckAfterAllConfirmed(*faults_, 300);
  EXPECT_EQ(streams_->Count("POUT"), 300);
}

// With max_unconfirmed = 8, no more than 8 are out at once in the adapter
// (the wrapper counts one more: the send waiting there for room), and all
// arrive.
TEST_F(NatsPipeline, TheWindowSettingBoundsWhatIsOut) {
  Register();
  auto h = Host(", max_unconfirmed = \"8\"", "");
  ASSERT_OK(h->Publish("pin.a", "burst 200 pout.b"));
  const ComponentStats st = h->SettledStats("misbehave", 1);
  EXPECT_EQ(st.handled, 1u);
  EXPECT_LE(faults_->peak_unconfirmed.load(), 9);
  EXPECT_GT(faults_->peak_unconfirmed.load(), 1);
  EXPECT_EQ(streams_->Count("POUT"), 200);
  EXPECT_EQ(faults_->acks_while_unconfirmed.load(), 0u);
}

// A subject the broker publishes through JetStream but no stream stores:
// each send returns (it went out), then JetStream's "no responders" comes
// back, and the delivery that made it fails. The policy tries it again and
// then gives up; it is never acked.
TEST_F(NatsPipeline, ASendNoStreamStoresFailsTheDeliveryAfterItReturned) {
  Register();
  auto h = Host("", "max_attempts = 2\n");
  ExpectARefusedSendFailsItsDelivery(*h, "pin.a", "burst 3 lost.x", "no JetStream stream stores lost.x");
  EXPECT_EQ(faults_->acks.load(), 0u);
}

}  // namespace
}  // namespace ferry::testing
