// Pipelined sends on Redis Streams against a real redis-server: a guest's
// XADDs go out together on the adapter's publishing connection, and the
// entry it handled is XACKed only after every XADD was answered; an XADD
// the server refuses fails the delivery after the send returned.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/faulty_broker.h"
#include "support/host_fixture.h"
#include "support/send_refused.h"
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
  // XACKs go out from the subscription's acker thread, a moment after the
  // delivery is settled: waits (generously) until nothing is pending.
  std::string PendingOnceSettled(const std::string& stream, const std::string& group) {
    std::string pending;
    for (int i = 0; i < 200; ++i) {
      pending = Cli("XPENDING " + stream + " " + group);
      if (pending.rfind("0\n", 0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pending;
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
  ExpectOneAckAfterAllConfirmed(*faults_, 300);
  EXPECT_EQ(Cli("XLEN rout"), "300\n");
  EXPECT_THAT(PendingOnceSettled("rin", "m"), ::testing::StartsWith("0\n"));
}

// Many deliveries settled close together (their sends confirmed in bursts):
// every entry is acknowledged, in fewer XACKs than entries when they come
// together, and none is delivered twice.
TEST_F(RedisPipeline, ManyDeliveriesSettledTogetherAreAllAcknowledged) {
  auto h = Host("workers = 4\n");
  Cli("CONFIG RESETSTAT");
  constexpr int kMessages = 400;
  for (int i = 0; i < kMessages; ++i) ASSERT_OK(h->Publish("rin", "burst 2 rmany"));
  const ComponentStats st = h->SettledStats("misbehave", kMessages);
  EXPECT_EQ(st.handled, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(st.failed, 0u);
  EXPECT_THAT(PendingOnceSettled("rin", "m"), ::testing::StartsWith("0\n"));
  EXPECT_EQ(Cli("XLEN rmany"), std::to_string(2 * kMessages) + "\n") << "no entry was handled twice";
  EXPECT_EQ(faults_->acks.load(), static_cast<std::uint64_t>(kMessages));
  const std::string stats = Cli("INFO commandstats");
  const auto at = stats.find("cmdstat_xack:calls=");
  ASSERT_NE(at, std::string::npos) << stats;
  const long xacks = std::stol(stats.substr(at + 19));
  EXPECT_LT(xacks, kMessages) << "each entry got an XACK of its own";
}

// A key that is not a stream makes the server refuse the XADD (WRONGTYPE)
// after the guest's send returned: the delivery fails, is tried again, and
// is given up; it is never XACKed.
TEST_F(RedisPipeline, AnXaddTheServerRefusesFailsTheDelivery) {
  ASSERT_THAT(Cli("SET rnotastream x"), ::testing::HasSubstr("OK"));
  auto h = Host("max_attempts = 2\n");
  ExpectARefusedSendFailsItsDelivery(*h, "rin", "burst 3 rnotastream", "WRONGTYPE");
  EXPECT_EQ(faults_->acks.load(), 0u);
}

}  // namespace
}  // namespace ferry::testing
