// The gateway under load: a reader that stops reading is dropped without
// growing Ferry's memory, and a thousand clients at once are served.
#include <gtest/gtest.h>

#include <iostream>

#include "gateway/gateway_fixture.h"

namespace ferry::testing {
namespace {

using gateway::Op;
using namespace std::chrono_literals;

TEST_F(GatewayTest, SlowReaderIsClosedWith4008AndOthersGoOn) {
  auto config = OpenGatewayConfig();
  config.send_buffer_bytes = 64 * 1024;
  config.max_message_bytes = 64 * 1024;
  Start(config);
  auto slow = Connect();
  auto fast = Connect();
  for (auto* c : {slow.get(), fast.get()}) {
    ASSERT_OK(c->SendBinary(gateway::EncodeSubscribe(1, "flood")));
    ASSERT_EQ(c->AnswerTo(1)->op, Op::kAck);
  }

  // The broker publishes at the pace of the client that reads; the other
  // reads nothing: its socket buffers fill, then its bounded queue in the
  // gateway, and it is dropped. The one keeping up never is.
  const Message chunk = Msg("flood", std::string(16 * 1024, 'x'));
  std::size_t published = 0;
  const auto deadline = Clock::now() + 120s;
  while (gateway_->Stats().slow_consumers == 0 && Clock::now() < deadline && published < 20000) {
    ASSERT_OK(broker_->Publish(chunk, Clock::now() + 5s));
    ++published;
    auto f = fast->Next(20s);
    ASSERT_OK(f) << "the reading client, message " << published;
    ASSERT_EQ(f->messages.at(0).data.size(), chunk.data.size());
  }
  ASSERT_EQ(gateway_->Stats().slow_consumers, 1u) << "after " << published << " messages";
  std::cout << "[ gateway ] slow reader dropped after " << published << " messages of 16 KiB ("
            << published * 16 / 1024 << " MiB; socket buffers, then its 64 KiB send buffer, filled)\n";

  // The reading client goes on.
  ASSERT_OK(broker_->Publish(Msg("flood", "still here"), Clock::now() + 5s));
  auto f = fast->Next();
  ASSERT_OK(f);
  EXPECT_EQ(f->messages.at(0).data.view(), "still here");
  EXPECT_EQ(gateway_->Stats().slow_consumers, 1u);

  // Reading again, the slow client finds what the sockets held, then the
  // close frame saying why.
  std::size_t received = 0;
  while (slow->Read(20s).ok()) ++received;
  EXPECT_EQ(slow->close_code(), gateway::kCloseSlowConsumer);
  EXPECT_LT(received, published);
  WaitForStats([](const auto& s) { return s.websockets == 1; });
  EXPECT_EQ(gateway_->Stats().websockets, 1u);
}

TEST_F(GatewayTest, PublishesSentWithoutReadingAreAllAnsweredInOrder) {
  auto config = OpenGatewayConfig();
  config.send_buffer_bytes = 4096;  // acks soon pass it: reading pauses and resumes
  Start(config);
  BrokerTap tap(*broker_, "burst");
  auto ws = Connect();
  // Thousands of publishes before reading anything: each is answered, in
  // order, reaches the broker once, and the client is not taken for slow.
  constexpr std::uint32_t kPublishes = 5000;
  for (std::uint32_t i = 1; i <= kPublishes; ++i)
    ASSERT_OK(ws->SendBinary(gateway::EncodePublish(i, Msg("burst", std::to_string(i)))));
  for (std::uint32_t i = 1; i <= kPublishes; ++i) {
    auto f = ws->Next(20s);
    ASSERT_OK(f) << i;
    ASSERT_EQ(f->op, Op::kAck) << i;
    ASSERT_EQ(f->id, i);
  }
  auto seen = tap.WaitFor(kPublishes);
  ASSERT_EQ(seen.size(), kPublishes);
  EXPECT_EQ(seen.back().data.view(), std::to_string(kPublishes));
  EXPECT_EQ(gateway_->Stats().slow_consumers, 0u);
  std::cout << "[ gateway ] reading paused " << gateway_->Stats().read_pauses << " times\n";
  EXPECT_GT(gateway_->Stats().read_pauses, 0u);
}

TEST_F(GatewayTest, AThousandConcurrentClientsAreServed) {
  constexpr int kClients = 1000;
  auto config = OpenGatewayConfig();
  config.max_connections = 1100;
  Start(config);
  const std::uint64_t before = ResidentKiB();
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = WsClient::Connect(gateway_->Port());
    ASSERT_OK(c) << "client " << i;
    clients.push_back(std::move(*c));
  }
  for (auto& c : clients) ASSERT_OK(c->SendBinary(gateway::EncodeSubscribe(1, "all.news")));
  for (auto& c : clients) ASSERT_EQ(c->AnswerTo(1)->op, Op::kAck);
  const std::uint64_t connected = ResidentKiB();
  EXPECT_EQ(gateway_->Stats().websockets, static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(gateway_->Stats().broker_subscriptions, 1u);  // shared by all

  ASSERT_OK(broker_->Publish(Msg("all.news", "to everyone"), Clock::now() + 5s));
  for (auto& c : clients) {
    auto f = c->Next(20s);
    ASSERT_OK(f);
    ASSERT_EQ(f->messages.at(0).data.view(), "to everyone");
  }
  // Each publishes too: 1,000 acks.
  for (int i = 0; i < kClients; ++i)
    ASSERT_OK(clients[i]->SendBinary(gateway::EncodePublish(2, Msg("from." + std::to_string(i), "x"))));
  for (auto& c : clients) ASSERT_EQ(c->AnswerTo(2, 20s)->op, Op::kAck);

  const std::uint64_t after = ResidentKiB();
  const double per_client = static_cast<double>(connected - before) / kClients;
  std::cout << "[ gateway ] " << kClients << " WebSocket clients, each subscribed: RSS " << before
            << " KiB before, " << connected << " KiB connected, " << after
            << " KiB after a fan-out and 1000 publishes; " << per_client
            << " KiB per client (gateway and test client in one process)\n";
  RecordProperty("rss_kib_before", static_cast<int>(before));
  RecordProperty("rss_kib_connected", static_cast<int>(connected));
  // A generous bound; it catches a buffer per connection gone wrong.
  EXPECT_LT(per_client, 512.0);
  clients.clear();
  WaitForStats([](const auto& s) { return s.websockets == 0 && s.broker_subscriptions == 0; });
  EXPECT_EQ(gateway_->Stats().websockets, 0u);
  EXPECT_EQ(gateway_->Stats().broker_subscriptions, 0u);  // the last one leaving ended it
}

}  // namespace
}  // namespace ferry::testing
