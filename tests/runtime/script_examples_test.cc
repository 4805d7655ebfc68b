// The Python (componentize-py) and JavaScript (componentize-js) examples
// run in a real host on the embedded broker and behave like the C ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

class ScriptExamples : public ::testing::TestWithParam<std::string> {
 protected:
  // The three examples of one language (suffix `_py` or `_js`).
  std::string Config() const {
    const std::string& lang = GetParam();
    std::string out;
    for (const auto& [name, topic] : {std::pair{"echo", "echo.in"}, std::pair{"transformer", "transform.in"},
                                      std::pair{"greeter", "greet"}}) {
      out += "[[component]]\nname = \"" + std::string(name) + "\"\npath = \"$COMPONENTS/" + name + "_" +
             lang + ".wasm\"\nsubscribe = [\"" + topic + "\"]\n";
      if (std::string(name) == "echo") out += "allow_publish = [\"echo.out\"]\n";
      if (std::string(name) == "transformer") out += "allow_publish = [\"transform.out\"]\n";
    }
    return out;
  }
};

TEST_P(ScriptExamples, EchoKeepsDataContentTypeMetadataAndBinary) {
  RunningHost h(Config());
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("echo.out");
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  ASSERT_OK(h.Publish("echo.in", binary, Metadata{{"k1", "v1"}, {"k2", "v2"}}, "application/octet-stream"));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), binary);
  EXPECT_EQ(got[0].content_type, "application/octet-stream");
  EXPECT_THAT(got[0].metadata.entries(), ElementsAre(Pair("k1", "v1"), Pair("k2", "v2")));
}

TEST_P(ScriptExamples, TransformerChangesDataMetadataAndContentType) {
  RunningHost h(Config());
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("transform.out");
  ASSERT_OK(h.Publish("transform.in", "make me loud", Metadata{{"keep", "yes"}, {"drop-me", "x"}}));
  auto got = out.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Text(got[0]), "MAKE ME LOUD");
  EXPECT_EQ(got[0].content_type, "text/plain");
  EXPECT_EQ(got[0].metadata.Get("transformed-by"), "ferry-transformer");
  EXPECT_EQ(got[0].metadata.Get("keep"), "yes");
  EXPECT_FALSE(got[0].metadata.Get("drop-me").has_value());
}

TEST_P(ScriptExamples, GreeterRepliesToARequest) {
  RunningHost h(Config());
  ASSERT_OK(h.start_status());
  Message req;
  req.topic = "greet";
  req.data = Bytes::FromString("ferry");
  auto replies = h.host().Request("default", req, std::chrono::seconds(10), 1);
  ASSERT_OK(replies);
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ(Text((*replies)[0]), "hello, ferry");
}

INSTANTIATE_TEST_SUITE_P(Languages, ScriptExamples, ::testing::Values("py", "js"),
                         [](const auto& info) { return info.param == "py" ? "Python" : "JavaScript"; });

}  // namespace
}  // namespace ferry::testing
