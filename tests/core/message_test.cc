// Message parts that copies share: a change to one copy never shows in
// another, however the copies were made.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "ferry/message.h"

namespace ferry {
namespace {

TEST(Metadata, ACopyChangedAfterwardsLeavesTheOriginalAsItWas) {
  Metadata original{{"k", "1"}, {"a-longer-key-than-fits-inline", "a-longer-value-than-fits-inline"}};
  Metadata copy = original;
  copy.Set("k", "2");
  copy.Set("new", "x");
  EXPECT_EQ(original.Get("k"), "1");
  EXPECT_FALSE(original.Get("new"));
  EXPECT_EQ(copy.Get("k"), "2");
  EXPECT_EQ(copy.size(), 3u);

  Metadata third = original;
  EXPECT_TRUE(third.Remove("k"));
  EXPECT_FALSE(third.Remove("k"));
  EXPECT_EQ(original.size(), 2u);
  third.Clear();
  EXPECT_TRUE(third.empty());
  EXPECT_EQ(original.Get("a-longer-key-than-fits-inline"), "a-longer-value-than-fits-inline");

  Metadata fourth = original;
  fourth.Assign({{"x", "1"}, {"x", "2"}});
  EXPECT_EQ(fourth.entries(), (std::vector<Metadata::Entry>{{"x", "2"}}));
  EXPECT_EQ(original.size(), 2u);
}

TEST(Metadata, EqualityIsByContentNotBySharing) {
  Metadata a{{"k", "v"}};
  Metadata b{{"k", "v"}};
  EXPECT_EQ(a, b);
  Metadata c = a;
  c.Set("k", "w");
  EXPECT_NE(a, c);
  EXPECT_EQ(Metadata(), Metadata{});
  Metadata emptied{{"k", "v"}};
  emptied.Remove("k");
  EXPECT_EQ(emptied, Metadata());
}

TEST(Metadata, CopiesOnManyThreadsEachChangeTheirOwn) {
  const Metadata shared{{"k", "v"}};
  std::vector<std::thread> threads;
  std::vector<Metadata> results(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        Metadata mine = shared;
        mine.Set("t", std::to_string(t));
        results[t] = mine;
      }
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(results[t].Get("t"), std::to_string(t));
  EXPECT_EQ(shared.size(), 1u);
}

TEST(SharedText, ReadsLikeAnOptionalString) {
  Message m;
  EXPECT_FALSE(m.content_type.has_value());
  EXPECT_EQ(m.content_type, std::nullopt);
  EXPECT_EQ(m.content_type.value_or("none"), "none");
  m.content_type = "application/octet-stream";
  Message copy = m;
  copy.content_type = "text/plain";
  EXPECT_EQ(m.content_type, "application/octet-stream");
  EXPECT_EQ(copy.content_type, "text/plain");
  EXPECT_EQ(m.content_type->size(), 24u);
  copy.content_type = std::optional<std::string>();
  EXPECT_FALSE(copy.content_type);
  copy.content_type = std::optional<std::string>("application/octet-stream");
  EXPECT_EQ(copy.content_type, m.content_type);  // equal text, separate strings
  copy.content_type.reset();
  EXPECT_NE(copy.content_type, m.content_type);
}

}  // namespace
}  // namespace ferry
