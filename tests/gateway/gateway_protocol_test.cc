// The gateway's protocol from a real WebSocket client (Boost.Beast) against
// a real embedded broker: publish, subscribe, request, and what it refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "gateway/gateway_fixture.h"

namespace ferry::testing {
namespace {

using gateway::Op;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

TEST_F(GatewayTest, PublishIsAckedAndReachesTheBrokerWithEverything) {
  Start(OpenGatewayConfig());
  BrokerTap tap(*broker_, "orders.>");
  auto ws = Connect();
  Message m = Msg("orders.new", std::string("{\"id\":1}\0x", 10));
  m.content_type = "application/json";
  m.metadata.Set("trace", "abc");
  ASSERT_OK(ws->SendBinary(gateway::EncodePublish(7, m)));
  auto ack = ws->AnswerTo(7);
  ASSERT_OK(ack);
  EXPECT_EQ(ack->op, Op::kAck);
  auto seen = tap.WaitFor(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].topic, "orders.new");
  EXPECT_EQ(seen[0].data.view(), m.data.view());
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(seen[0].metadata.Get("trace"), "abc");
}

TEST_F(GatewayTest, SubscriptionsWithWildcardsDeliverUntilUnsubscribed) {
  Start(OpenGatewayConfig());
  auto ws = Connect();
  ASSERT_OK(ws->SendBinary(gateway::EncodeSubscribe(1, "room.*.chat")));
  ASSERT_OK(ws->SendBinary(gateway::EncodeSubscribe(2, "room.>")));
  ASSERT_EQ(ws->AnswerTo(1)->op, Op::kAck);
  ASSERT_EQ(ws->AnswerTo(2)->op, Op::kAck);
  Message m = Msg("room.a.chat", "hi");
  m.metadata.Set("k", "v");
  ASSERT_OK(broker_->Publish(m, Clock::now() + 5s));
  std::set<std::uint32_t> ids;
  for (int i = 0; i < 2; ++i) {
    auto f = ws->Next();
    ASSERT_OK(f);
    ASSERT_EQ(f->op, Op::kMessage);
    ids.insert(f->id);
    EXPECT_EQ(f->messages.at(0).data.view(), "hi");
    EXPECT_EQ(f->messages.at(0).metadata.Get("k"), "v");
  }
  EXPECT_EQ(ids, (std::set<std::uint32_t>{1, 2}));
  EXPECT_EQ(gateway_->Stats().broker_subscriptions, 2u);

  // Another client on the same pattern shares the broker subscription.
  auto other = Connect();
  ASSERT_OK(other->SendBinary(gateway::EncodeSubscribe(5, "room.>")));
  ASSERT_EQ(other->AnswerTo(5)->op, Op::kAck);
  EXPECT_EQ(gateway_->Stats().broker_subscriptions, 2u);

  ASSERT_OK(ws->SendBinary(gateway::EncodeUnsubscribe(2)));
  ASSERT_EQ(ws->AnswerTo(2)->op, Op::kAck);
  EXPECT_EQ(gateway_->Stats().broker_subscriptions, 2u);  // the other still uses room.>
  ASSERT_OK(broker_->Publish(Msg("room.b.chat", "second"), Clock::now() + 5s));
  auto f = ws->Next();
  ASSERT_OK(f);
  EXPECT_EQ(f->id, 1u);
  EXPECT_EQ(f->messages.at(0).data.view(), "second");
  // Nothing for subscription 2 follows: a publish to a topic only it
  // matched, then one only 1 matches, arrives as the next frame.
  ASSERT_OK(broker_->Publish(Msg("room.b", "only-2"), Clock::now() + 5s));
  ASSERT_OK(broker_->Publish(Msg("room.c.chat", "third"), Clock::now() + 5s));
  f = ws->Next();
  ASSERT_OK(f);
  EXPECT_EQ(f->messages.at(0).data.view(), "third");
  // The other client got room.b and room.c.chat on its room.> (after
  // room.b.chat, which it got too).
  for (const char* want : {"second", "only-2", "third"}) {
    f = other->Next();
    ASSERT_OK(f);
    EXPECT_EQ(f->id, 5u);
    EXPECT_EQ(f->messages.at(0).data.view(), want);
  }
  other.reset();
  WaitForStats([](const auto& s) { return s.broker_subscriptions == 1; });
  EXPECT_EQ(gateway_->Stats().broker_subscriptions, 1u);
}

TEST_F(GatewayTest, RequestCollectsExpectedRepliesOrTimesOut) {
  Start(OpenGatewayConfig());
  // Two responders on the broker, as two components would be.
  std::vector<std::unique_ptr<Subscription>> responders;
  for (std::string who : {"a", "b"}) {
    SubscribeOptions o;
    o.pattern = "svc.echo";
    o.manual_ack = false;
    auto sub = broker_->Subscribe(o, [this, who](Delivery d) {
      Message reply = Msg(d.message.reply_to, who + ":" + std::string(d.message.data.view()));
      (void)broker_->Publish(reply, Clock::now() + 5s);
    });
    ASSERT_OK(sub);
    responders.push_back(std::move(*sub));
  }
  auto ws = Connect();
  ASSERT_OK(ws->SendBinary(gateway::EncodeRequest(3, Msg("svc.echo", "x"), 5000, 2)));
  auto r = ws->AnswerTo(3);
  ASSERT_OK(r);
  ASSERT_EQ(r->op, Op::kReplies);
  std::set<std::string> texts;
  for (const auto& m : r->messages) texts.insert(std::string(m.data.view()));
  EXPECT_EQ(texts, (std::set<std::string>{"a:x", "b:x"}));

  ASSERT_OK(ws->SendBinary(gateway::EncodeRequest(4, Msg("svc.nobody", "x"), 200, 1)));
  r = ws->AnswerTo(4);
  ASSERT_OK(r);
  ASSERT_EQ(r->op, Op::kError);
  EXPECT_EQ(r->error_code, static_cast<std::uint8_t>(ErrorCode::kTimeout));
}

TEST_F(GatewayTest, OriginNotAllowedIsRefusedAtTheHandshake) {
  auto config = OpenGatewayConfig();
  config.allowed_origins = {"http://good.example"};
  Start(config);
  auto bad = WsClient::Connect(gateway_->Port(), {.origin = "http://evil.example"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), StartsWith("403"));
  EXPECT_THAT(bad.error().message(), HasSubstr("origin http://evil.example is not allowed"));
  EXPECT_OK(WsClient::Connect(gateway_->Port(), {.origin = "http://good.example"}));
  EXPECT_OK(WsClient::Connect(gateway_->Port()));  // not a browser: no Origin
  EXPECT_EQ(gateway_->Stats().denied_handshakes, 1u);
}

TEST_F(GatewayTest, WithoutAllowedOriginsOnlyTheGatewaysOwnOriginPasses) {
  Start(OpenGatewayConfig());
  const std::string own = "http://127.0.0.1:" + std::to_string(gateway_->Port());
  EXPECT_OK(WsClient::Connect(gateway_->Port(), {.origin = own}));
  auto other = WsClient::Connect(gateway_->Port(), {.origin = "http://127.0.0.1:1"});
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.error().message(), StartsWith("403"));
}

TEST_F(GatewayTest, TokensAreRequiredCheckedAndCarryTheirGrants) {
  auto config = OpenGatewayConfig();
  config.grants = {};
  config.require_token = true;
  config.tokens.push_back({"0123456789abcdef-alice", "gateway.token[0]", {{"alice.>"}, {"alice.>"}, {}}});
  Start(config);
  BrokerTap tap(*broker_, ">");

  auto none = WsClient::Connect(gateway_->Port());
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message(), StartsWith("401"));
  EXPECT_THAT(none.error().message(), HasSubstr("a token is required"));
  auto wrong = WsClient::Connect(gateway_->Port(), {.bearer = "0123456789abcdef-mallory"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.error().message(), StartsWith("401"));
  EXPECT_EQ(gateway_->Stats().denied_handshakes, 2u);

  // The token in the query string, as a browser sends it.
  auto alice = WsClient::Connect(gateway_->Port(), {.target = "/?access_token=0123456789abcdef-alice"});
  ASSERT_OK(alice);
  auto ws = std::move(*alice);
  ASSERT_OK(ws->SendBinary(gateway::EncodePublish(1, Msg("bob.inbox", "nope"))));
  auto denied = ws->AnswerTo(1);
  ASSERT_OK(denied);
  ASSERT_EQ(denied->op, Op::kError);
  EXPECT_EQ(denied->error_code, static_cast<std::uint8_t>(ErrorCode::kPermissionDenied));
  EXPECT_THAT(denied->error_text, HasSubstr("allow_publish"));
  ASSERT_OK(ws->SendBinary(gateway::EncodePublish(2, Msg("alice.notes", "mine"))));
  ASSERT_EQ(ws->AnswerTo(2)->op, Op::kAck);
  // Only the granted publish reached the broker.
  auto seen = tap.WaitFor(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].topic, "alice.notes");
}

TEST_F(GatewayTest, DeniedOperationsGetErrorFramesAndReachNoBroker) {
  auto config = OpenGatewayConfig();
  config.grants = {{"public.>"}, {"public.*"}, {"svc.allowed"}};
  Start(config);
  BrokerTap tap(*broker_, ">");
  auto ws = Connect();
  ASSERT_OK(ws->SendBinary(gateway::EncodeSubscribe(1, "public.>")));  // wider than granted
  ASSERT_OK(ws->SendBinary(gateway::EncodeSubscribe(2, ">")));
  ASSERT_OK(ws->SendBinary(gateway::EncodeRequest(3, Msg("svc.secret", "x"), 1000, 1)));
  ASSERT_OK(ws->SendBinary(gateway::EncodePublish(4, Msg("private.x", "x"))));
  ASSERT_OK(ws->SendBinary(gateway::EncodePublish(5, Msg("bad..topic", "x"))));
  for (std::uint32_t id = 1; id <= 5; ++id) {
    auto f = ws->AnswerTo(id);
    ASSERT_OK(f);
    EXPECT_EQ(f->op, Op::kError) << id;
    EXPECT_EQ(f->error_code, static_cast<std::uint8_t>(id == 5 ? ErrorCode::kInvalidArgument
                                                               : ErrorCode::kPermissionDenied))
        << id << ": " << f->error_text;
  }
  ASSERT_OK(ws->SendBinary(gateway::EncodePublish(6, Msg("public.ok", "x"))));
  ASSERT_EQ(ws->AnswerTo(6)->op, Op::kAck);
  auto seen = tap.WaitFor(1);
  ASSERT_EQ(seen.size(), 1u);  // the one granted publish, and no request
  EXPECT_EQ(seen[0].topic, "public.ok");
  EXPECT_EQ(gateway_->Stats().denied_operations, 5u);
}

TEST_F(GatewayTest, MalformedFrameGetsAnErrorAndClose1002) {
  Start(OpenGatewayConfig());
  auto ws = Connect();
  std::string truncated = gateway::EncodePublish(1, Msg("a.b", "payload"));
  truncated.resize(truncated.size() - 3);
  ASSERT_OK(ws->SendBinary(truncated));
  auto f = ws->Next();
  ASSERT_OK(f);
  ASSERT_EQ(f->op, Op::kError);
  EXPECT_EQ(f->id, 0u);
  EXPECT_THAT(f->error_text, HasSubstr("malformed frame"));
  EXPECT_FALSE(ws->Read().ok());
  EXPECT_EQ(ws->close_code(), 1002);

  auto other = Connect();  // another version of the framing
  std::string v2 = gateway::EncodeAck(1);
  v2[0] = 2;
  ASSERT_OK(other->SendBinary(v2));
  f = other->Next();
  ASSERT_OK(f);
  EXPECT_THAT(f->error_text, HasSubstr("version 2"));

  auto text = Connect();
  ASSERT_OK(text->SendText("{\"op\":\"publish\"}"));
  EXPECT_FALSE(text->Read().ok());
  EXPECT_EQ(text->close_code(), 1003);
  EXPECT_EQ(gateway_->Stats().protocol_errors, 3u);
}

TEST_F(GatewayTest, OversizedMessageClosesWith1009AndReachesNoBroker) {
  auto config = OpenGatewayConfig();
  config.max_message_bytes = 1024;
  Start(config);
  BrokerTap tap(*broker_, ">");
  auto ws = Connect();
  ASSERT_OK(ws->SendBinary(gateway::EncodePublish(1, Msg("a.b", std::string(2000, 'x')))));
  auto closed = ws->Read();
  ASSERT_FALSE(closed.ok());
  EXPECT_THAT(closed.error().message(), HasSubstr("closed by the gateway with 1009"));
  EXPECT_EQ(ws->close_code(), 1009);
  auto small = Connect();
  ASSERT_OK(small->SendBinary(gateway::EncodePublish(1, Msg("a.b", std::string(900, 'x')))));
  EXPECT_EQ(small->AnswerTo(1)->op, Op::kAck);
  auto seen = tap.WaitFor(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].data.size(), 900u);
}

TEST_F(GatewayTest, ConnectionsPastTheCapAreRefused) {
  auto config = OpenGatewayConfig();
  config.max_connections = 2;
  Start(config);
  auto a = Connect();
  auto b = Connect();
  auto c = WsClient::Connect(gateway_->Port());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message(), StartsWith("503"));
  EXPECT_EQ(gateway_->Stats().refused, 1u);
  a->Close();
  WaitForStats([](const auto& s) { return s.connections < 2; });
  EXPECT_OK(WsClient::Connect(gateway_->Port()));
}

TEST_F(GatewayTest, SubscriptionLimitsAndDuplicateIds) {
  auto config = OpenGatewayConfig();
  config.max_subscriptions = 1;
  Start(config);
  auto ws = Connect();
  ASSERT_OK(ws->SendBinary(gateway::EncodeSubscribe(1, "a")));
  EXPECT_EQ(ws->AnswerTo(1)->op, Op::kAck);
  ASSERT_OK(ws->SendBinary(gateway::EncodeSubscribe(1, "b")));
  ASSERT_OK(ws->SendBinary(gateway::EncodeSubscribe(2, "c")));
  ASSERT_OK(ws->SendBinary(gateway::EncodeUnsubscribe(9)));
  auto dup = ws->AnswerTo(1);
  EXPECT_THAT(dup->error_text, HasSubstr("subscription id 1 is in use"));
  EXPECT_THAT(ws->AnswerTo(2)->error_text, HasSubstr("max_subscriptions"));
  EXPECT_EQ(ws->AnswerTo(9)->error_code, static_cast<std::uint8_t>(ErrorCode::kNotFound));
}

}  // namespace
}  // namespace ferry::testing
