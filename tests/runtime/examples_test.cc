// The example components running in a real host on the embedded broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kDemo[] = R"(
[brokers]
default = "mem://"

[[component]]
name = "echo"
path = "$COMPONENTS/echo.wasm"
subscribe = ["echo.in"]

[[component]]
name = "transformer"
path = "$COMPONENTS/transformer.wasm"
subscribe = ["transform.in"]

[[component]]
name = "greeter"
path = "$COMPONENTS/greeter.wasm"
subscribe = ["greet"]

[[component]]
name = "shouter"
path = "$COMPONENTS/shouter.wasm"
subscribe = ["greet"]

[[component]]
name = "client"
path = "$COMPONENTS/client.wasm"
subscribe = ["client.in"]
)";

TEST(Examples, EchoSendsDataContentTypeAndMetadata) {
  RunningHost h(kDemo);
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("echo.out");
  ASSERT_OK(h.Publish("echo.in", "hello", Metadata{{"k1", "v1"}, {"k2", "v2"}}, "text/plain"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "hello");
  EXPECT_EQ(got[0].topic, "echo.out");
  EXPECT_EQ(got[0].content_type, "text/plain");
  EXPECT_THAT(got[0].metadata.entries(), ElementsAre(Pair("k1", "v1"), Pair("k2", "v2")));
  EXPECT_EQ(h.SettledStats("echo", 1).handled, 1u);
}

TEST(Examples, EchoKeepsBinaryPayloadsAndOrder) {
  RunningHost h(kDemo);
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("echo.out");
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  for (int i = 0; i < 50; ++i) ASSERT_OK(h.Publish("echo.in", std::to_string(i) + binary));
  auto got = out.WaitFor(50);
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Text(got[i]), std::to_string(i) + binary);
}

TEST(Examples, TransformerChangesDataMetadataAndContentType) {
  RunningHost h(kDemo);
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("transform.out");
  ASSERT_OK(h.Publish("transform.in", "make me loud", Metadata{{"keep", "yes"}, {"drop-me", "x"}},
                      "application/x-whatever"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "MAKE ME LOUD");
  EXPECT_EQ(got[0].content_type, "text/plain");
  EXPECT_EQ(got[0].metadata.Get("transformed-by"), "ferry-transformer");
  EXPECT_EQ(got[0].metadata.Get("keep"), "yes");
  EXPECT_FALSE(got[0].metadata.Get("drop-me").has_value());
}

TEST(Examples, RequestGetsBothServicesReplies) {
  RunningHost h(kDemo);
  ASSERT_OK(h.start_status());
  Message req;
  req.topic = "greet";
  req.data = Bytes::FromString("ferry");
  auto replies = h.host().Request("default", req, std::chrono::seconds(5), 2);
  ASSERT_OK(replies);
  std::vector<std::string> texts;
  for (const auto& r : *replies) texts.push_back(Text(r));
  EXPECT_THAT(texts, UnorderedElementsAre("hello, ferry", "HELLO, FERRY"));
}

TEST(Examples, ClientCollectsRepliesThroughRequest) {
  RunningHost h(kDemo);
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("client.out");
  ASSERT_OK(h.Publish("client.in", "ferry"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "HELLO, FERRY\nhello, ferry");
  EXPECT_EQ(got[0].metadata.Get("replies"), "2");
}

TEST(Examples, ClientReportsTimeoutWhenNoServiceAnswers) {
  RunningHost h(R"(
[[component]]
name = "client"
path = "$COMPONENTS/client.wasm"
subscribe = ["client.in"]
)");
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("client.out");
  ASSERT_OK(h.Publish("client.in", "anyone"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "error: timeout");
}

}  // namespace
}  // namespace ferry::testing
