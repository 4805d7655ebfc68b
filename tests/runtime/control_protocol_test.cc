// The control socket's wire format: round trips, and malformed input that
// must fail cleanly instead of crashing or over-reading.
#include "runtime/control_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/matchers.h"

namespace ferry::control {
namespace {

using ::testing::HasSubstr;

// The body of an encoded frame (without its length prefix).
std::string Body(const std::string& frame) { return frame.substr(4); }

Request FullRequest() {
  Request r;
  r.op = kRequest;
  r.broker = "orders";
  r.message.topic = "svc.price";
  r.message.data = Bytes::FromString(std::string("bin\0ary", 7));
  r.message.content_type = "application/octet-stream";
  r.message.metadata.Set("z", "1");
  r.message.metadata.Set("a", "");
  r.message.reply_to = "inbox.1";
  r.timeout_ms = 1500;
  r.expected_replies = 3;
  return r;
}

// A socket pair closed at the end of the test.
struct SocketPair {
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fds[0], bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }
  void CloseWriter() {
    ::close(fds[0]);
    fds[0] = -1;
  }
  int fds[2] = {-1, -1};
};

std::string U32Bytes(std::uint32_t v) {
  Writer w;
  w.U32(v);
  return Body(w.Frame());
}

TEST(ControlProtocol, RequestRoundTrips) {
  const Request in = FullRequest();
  auto out = DecodeRequest(Body(EncodeRequest(in)));
  ASSERT_OK(out);
  EXPECT_EQ(out->op, kRequest);
  EXPECT_EQ(out->broker, "orders");
  EXPECT_EQ(out->message.topic, "svc.price");
  EXPECT_EQ(out->message.data.view(), std::string_view("bin\0ary", 7));
  EXPECT_EQ(out->message.content_type, "application/octet-stream");
  EXPECT_EQ(out->message.metadata, in.message.metadata);  // order kept
  EXPECT_EQ(out->message.reply_to, "inbox.1");
  EXPECT_EQ(out->timeout_ms, 1500u);
  EXPECT_EQ(out->expected_replies, 3u);
}

TEST(ControlProtocol, PublishAndSubscribeRoundTrip) {
  Request publish;
  publish.op = kPublish;
  publish.message.topic = "a.b";
  auto p = DecodeRequest(Body(EncodeRequest(publish)));
  ASSERT_OK(p);
  EXPECT_EQ(p->op, kPublish);
  EXPECT_EQ(p->broker, "default");
  EXPECT_FALSE(p->message.content_type.has_value());
  EXPECT_TRUE(p->message.data.empty());

  Request subscribe;
  subscribe.op = kSubscribe;
  subscribe.pattern = "a.>";
  subscribe.count = 7;
  auto s = DecodeRequest(Body(EncodeRequest(subscribe)));
  ASSERT_OK(s);
  EXPECT_EQ(s->op, kSubscribe);
  EXPECT_EQ(s->pattern, "a.>");
  EXPECT_EQ(s->count, 7u);
}

TEST(ControlProtocol, EveryTruncationIsRejected) {
  const std::string body = Body(EncodeRequest(FullRequest()));
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto r = DecodeRequest(body.substr(0, n));
    ASSERT_FALSE(r.ok()) << "accepted " << n << " of " << body.size() << " bytes";
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr("malformed control frame"));
  }
}

TEST(ControlProtocol, TrailingBytesAreRejected) {
  auto r = DecodeRequest(Body(EncodeRequest(FullRequest())) + "xx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "malformed control frame: 2 unexpected trailing bytes");
}

TEST(ControlProtocol, UnknownVersionAndOperation) {
  std::string body = Body(EncodeRequest(FullRequest()));
  body[0] = 9;
  auto version = DecodeRequest(body);
  ASSERT_FALSE(version.ok());
  EXPECT_THAT(version.error().message(), HasSubstr("control protocol version 9"));

  body[0] = kVersion;
  body[1] = 42;
  auto op = DecodeRequest(body);
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.error().message(), "unknown control operation 42");
}

TEST(ControlProtocol, LengthsBeyondTheFrameFailWithoutReadingPastIt) {
  // version, publish, then a broker name claiming 4 GiB.
  std::string body = {static_cast<char>(kVersion), static_cast<char>(kPublish)};
  body += U32Bytes(0xffffffffu) + "abc";
  auto r = DecodeRequest(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);

  // A metadata count of 4 billion with no entries behind it fails at once.
  Writer w;
  w.Str("t");
  w.Str("d");
  w.U8(0);
  w.U32(0xffffffffu);
  const std::string message = Body(w.Frame());
  Reader reader(message);
  EXPECT_FALSE(reader.Msg().ok());
}

TEST(ControlProtocol, ContentTypeFlagMustBeZeroOrOne) {
  Writer w;
  w.Str("t");
  w.Str("d");
  w.U8(2);
  const std::string body = Body(w.Frame());
  Reader reader(body);
  auto m = reader.Msg();
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message(), HasSubstr("content-type flag"));
}

TEST(ControlProtocol, OutcomeCarriesCodeAndText) {
  Writer w;
  w.Outcome(Error::Timeout("no reply within 5 ms"));
  w.Outcome(Status::Ok());
  const std::string body = Body(w.Frame());
  Reader r(body);
  Status timeout = r.Outcome();
  ASSERT_FALSE(timeout.ok());
  EXPECT_EQ(timeout.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(timeout.error().message(), "no reply within 5 ms");
  EXPECT_OK(r.Outcome());
  EXPECT_OK(r.End());

  // A code this ferry does not know (from a newer one) is kept as Internal.
  Writer unknown;
  unknown.U8(200);
  unknown.Str("new");
  const std::string unknown_body = Body(unknown.Frame());
  Reader u(unknown_body);
  Status s = u.Outcome();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kInternal);
}

TEST(ControlProtocol, ReadFrameRejectsOversizedLengths) {
  SocketPair pair;
  pair.Send(U32Bytes(kMaxFrame + 1));
  auto frame = ReadFrame(pair.fds[1]);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(frame.error().message(), HasSubstr("over the limit"));
}

TEST(ControlProtocol, ReadFrameReportsATruncatedBody) {
  SocketPair pair;
  pair.Send(U32Bytes(100) + "only ten b");
  pair.CloseWriter();
  auto frame = ReadFrame(pair.fds[1]);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().code(), ErrorCode::kConnection);
}

TEST(ControlProtocol, FramesCrossASocketIntact) {
  SocketPair pair;
  const std::string frame = EncodeRequest(FullRequest());
  ASSERT_OK(WriteFrame(pair.fds[0], frame));
  auto body = ReadFrame(pair.fds[1]);
  ASSERT_OK(body);
  EXPECT_EQ(*body, Body(frame));
}

TEST(ControlProtocol, SocketPathMustFit) {
  EXPECT_FALSE(SocketAddress(std::string(200, 'x')).ok());
  EXPECT_FALSE(SocketAddress("").ok());
  EXPECT_OK(SocketAddress("/tmp/ferry.sock"));
}

}  // namespace
}  // namespace ferry::control
