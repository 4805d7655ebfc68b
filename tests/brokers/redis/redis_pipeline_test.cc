// Pipelined sends on Redis Streams against a real redis-server: a guest's
// XADDs go out together on the adapter's publishing connection, and the
// entry it handled is XACKed only after every XADD was answered; an XADD
// the server refuses fails the delivery after the send returned.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/faulty_broker.h"
#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/server_process.h"
#include "support/shell.h"

namespace ferry::testing {
namespace {

class RedisPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(server_.Start());
    auto scheme = RegisterFaultyScheme(faults_, "redis://127.0.0.1:" + std::to_string(server_.port()));
    ASSERT_OK(scheme);
    scheme_ = std::move(scheme).value();
  }
  std::string Cli(const std::string& args) {
    return Shell("redis-cli -h 127.0.0.1 -p " + std::to_string(server_.port()) + " " + args);
  }
  std::unique_ptr<RunningHost> Host(const std::string& extra = "") {
    auto host = std::make_unique<RunningHost>(
        "[brokers]\ndefault = { url = \"faulty://\", publish = \"streams\" }\n"
        "[[component]]\nname = \"misbehave\"\npath = \"$COMPONENTS/misbehave.wasm\"\n"
        "subscribe = [\"rin\"]\nqueue_group = \"m\"\nretry_delay_ms = 10\n" + extra);
    EXPECT_OK(host->start_status());
    return host;
  }

  ServerProcess server_{"redis-server", {"redis-server", "--port", "$PORT", "--bind", "127.0.0.1",
                                         "--dir", "$DIR", "--save", ""}};
  std::shared_ptr<Faults> faults_ = std::make_shared<Faults>();
  std::unique_ptr<ScopedBrokerScheme> scheme_;
};

// 300 XADDs from one delivery: many were unanswered at once, all 300 are
// in the stream, the entry was XACKed after the last reply, and nothing is
// left pending in the component's group.
TEST_F(RedisPipeline, ManySendsOfOneDeliveryAreStoredBeforeItsAck) {
  auto h = Host();
  ASSERT_OK(h->Publish("rin", "burst 300 rout"));
  const ComponentStats st = h->SettledStats("misbehave", 1);
  EXPECT_EQ(st.handled, 1u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(faults_->acks.load(), 1u);
  EXPECT_EQ(faults_->acks_while_unconfirmed.load(), 0u);
  EXPECT_EQ(faults_->confirmed.load(), 300u);
  EXPECT_GT(faults_->peak_unconfirmed.load(), 1);
  EXPECT_EQ(Cli("XLEN rout"), "300\n");
  EXPECT_THAT(Cli("XPENDING rin m"), ::testing::StartsWith("0\n"));
}

// A key that is not a stream makes the server refuse the XADD (WRONGTYPE)
// after the guest's send returned: the delivery fails, is tried again, and
// is given up; it is never XACKed.
TEST_F(RedisPipeline, AnXaddTheServerRefusesFailsTheDelivery) {
  LogCapture log;
  ASSERT_THAT(Cli("SET rnotastream x"), ::testing::HasSubstr("OK"));
  auto h = Host("max_attempts = 2\n");
  ASSERT_OK(h->Publish("rin", "burst 3 rnotastream"));
  const ComponentStats st =
      h->WaitForStats("misbehave", [](const ComponentStats& s) { return s.given_up == 1; });
  EXPECT_EQ(st.failed, 2u);
  EXPECT_EQ(st.handled, 0u);
  EXPECT_EQ(faults_->acks.load(), 0u);
  EXPECT_GE(log.Count("a message it sent was not confirmed by the broker"), 1u);
  EXPECT_GE(log.Count("WRONGTYPE"), 1u);
}

}  // namespace
}  // namespace ferry::testing
