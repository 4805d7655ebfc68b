// The gateway's admission and grant rules, and its framing, without a
// network.
#include "gateway/access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/wire.h"
#include "support/matchers.h"

namespace ferry::gateway {
namespace {

using ::testing::HasSubstr;

config::GatewayConfig Config() {
  config::GatewayConfig c;
  c.allowed_origins = {"https://app.example"};
  c.grants = {{"public.>"}, {"public.>"}, {}};
  c.origins.push_back({"https://admin.example", {{"admin.>"}, {}, {"admin.rpc"}}});
  c.tokens.push_back({"token-of-the-operator", "gateway.token[0]", {{">"}, {">"}, {">"}}});
  return c;
}

Handshake From(std::optional<std::string> origin, std::optional<std::string> token = std::nullopt) {
  return {std::move(origin), "ferry.local:8787", std::move(token), false};
}

TEST(GatewayAccess, GrantsComeFromTheTokenElseTheOriginElseTheDefaults) {
  AccessPolicy policy(Config());
  auto anonymous = policy.Admit(From("https://app.example"));
  ASSERT_OK(anonymous);
  EXPECT_EQ(anonymous->who, "anonymous");
  EXPECT_OK(AccessPolicy::MayPublish(anonymous->grants, "public.x"));
  EXPECT_FALSE(AccessPolicy::MayPublish(anonymous->grants, "admin.x").ok());

  auto admin = policy.Admit(From("https://admin.example"));
  ASSERT_OK(admin);
  EXPECT_EQ(admin->who, "origin https://admin.example");
  EXPECT_OK(AccessPolicy::MayRequest(admin->grants, "admin.rpc"));
  EXPECT_FALSE(AccessPolicy::MayPublish(admin->grants, "public.x").ok());

  auto operator_ = policy.Admit(From("https://app.example", "token-of-the-operator"));
  ASSERT_OK(operator_);
  EXPECT_EQ(operator_->who, "gateway.token[0]");
  EXPECT_OK(AccessPolicy::MaySubscribe(operator_->grants, "anything.>"));
}

TEST(GatewayAccess, RefusalsSayWhy) {
  AccessPolicy policy(Config());
  auto origin = policy.Admit(From("https://evil.example"));
  ASSERT_FALSE(origin.ok());
  EXPECT_EQ(origin.error().code(), ErrorCode::kPermissionDenied);
  auto token = policy.Admit(From("https://app.example", "token-of-the-operatoR"));
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code(), ErrorCode::kFailedPrecondition);
  // An origin is checked before the token: a good token from a bad page fails.
  EXPECT_FALSE(policy.Admit(From("https://evil.example", "token-of-the-operator")).ok());

  auto sub = AccessPolicy::MaySubscribe({{}, {"public.*"}, {}}, "public.>");
  ASSERT_FALSE(sub.ok());
  EXPECT_THAT(sub.error().message(), HasSubstr("not allowed to subscribe to 'public.>' (gateway grant allow_subscribe)"));
}

TEST(GatewayAccess, SameOriginDefaultComparesSchemeAndHost) {
  config::GatewayConfig c;
  AccessPolicy policy(c);
  EXPECT_OK(policy.Admit(From("http://ferry.local:8787")));
  EXPECT_FALSE(policy.Admit(From("https://ferry.local:8787")).ok());  // we are not TLS
  EXPECT_FALSE(policy.Admit(From("http://ferry.local:8788")).ok());
  EXPECT_FALSE(policy.Admit(From("null")).ok());  // sandboxed pages and file://
  EXPECT_OK(policy.Admit(From(std::nullopt)));
}

TEST(GatewayAccess, QueryParameterDecodes) {
  EXPECT_EQ(QueryParameter("/?access_token=a%2Bb%3D&x=1", "access_token"), "a+b=");
  EXPECT_EQ(QueryParameter("/?x=1&access_token=t", "access_token"), "t");
  EXPECT_EQ(QueryParameter("/?access_tokenx=t", "access_token"), std::nullopt);
  EXPECT_EQ(QueryParameter("/", "access_token"), std::nullopt);
  EXPECT_EQ(QueryParameter("/?access_token=%zz", "access_token"), "%zz");
}

TEST(GatewayWire, ClientFramesRoundTrip) {
  Message m;
  m.topic = "a.b";
  m.data = Bytes::FromString(std::string("\0\1\2", 3));
  m.content_type = "application/octet-stream";
  m.metadata.Set("k", "v");
  auto f = DecodeClientFrame(EncodeRequest(42, m, 1500, 3));
  ASSERT_OK(f);
  EXPECT_EQ(f->op, Op::kRequest);
  EXPECT_EQ(f->id, 42u);
  EXPECT_EQ(f->timeout_ms, 1500u);
  EXPECT_EQ(f->expected_replies, 3u);
  EXPECT_EQ(f->message.topic, "a.b");
  EXPECT_EQ(f->message.data, m.data);
  EXPECT_EQ(f->message.content_type, m.content_type);
  EXPECT_EQ(f->message.metadata, m.metadata);
  auto s = DecodeClientFrame(EncodeSubscribe(7, "x.>"));
  ASSERT_OK(s);
  EXPECT_EQ(s->pattern, "x.>");
  auto replies = DecodeServerFrame(EncodeReplies(9, {m, m}));
  ASSERT_OK(replies);
  EXPECT_EQ(replies->messages.size(), 2u);
  auto error = DecodeServerFrame(EncodeError(3, Error::Timeout("late")));
  ASSERT_OK(error);
  EXPECT_EQ(error->error_code, static_cast<std::uint8_t>(ErrorCode::kTimeout));
  EXPECT_EQ(error->error_text, "late");
}

TEST(GatewayWire, EveryTruncationAndExtensionIsAnError) {
  Message m;
  m.topic = "a.b";
  m.data = Bytes::FromString("payload");
  m.metadata.Set("key", "value");
  const std::string frame = EncodeRequest(1, m, 10, 1);
  for (std::size_t n = 0; n < frame.size(); ++n) {
    auto f = DecodeClientFrame(frame.substr(0, n));
    ASSERT_FALSE(f.ok()) << n;
    EXPECT_THAT(f.error().message(), HasSubstr("malformed frame")) << n;
  }
  EXPECT_FALSE(DecodeClientFrame(frame + "x").ok());
  std::string server_op = frame;
  server_op[1] = static_cast<char>(Op::kAck);  // a gateway op from a client
  EXPECT_THAT(DecodeClientFrame(server_op).error().message(), HasSubstr("unknown op 129"));
}

}  // namespace
}  // namespace ferry::gateway
