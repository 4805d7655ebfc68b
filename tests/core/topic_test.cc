#include "core/topic.h"

#include <gtest/gtest.h>

#include "support/matchers.h"

namespace ferry {
namespace {

TEST(Topic, ValidTopics) {
  EXPECT_OK(ValidateTopic("orders"));
  EXPECT_OK(ValidateTopic("orders.new.eu"));
  EXPECT_FALSE(ValidateTopic("").ok());
  EXPECT_FALSE(ValidateTopic("orders..new").ok());
  EXPECT_FALSE(ValidateTopic(".orders").ok());
  EXPECT_FALSE(ValidateTopic("orders.").ok());
  EXPECT_FALSE(ValidateTopic("orders.*").ok());
  EXPECT_FALSE(ValidateTopic("orders.>").ok());
  EXPECT_FALSE(ValidateTopic("or ders").ok());
}

TEST(Topic, ValidPatterns) {
  EXPECT_OK(ValidatePattern("orders.*"));
  EXPECT_OK(ValidatePattern("orders.>"));
  EXPECT_OK(ValidatePattern(">"));
  EXPECT_OK(ValidatePattern("*.new.*"));
  EXPECT_FALSE(ValidatePattern("orders.>.eu").ok());
  EXPECT_FALSE(ValidatePattern("orders.n*").ok());
  EXPECT_FALSE(ValidatePattern("orders..*").ok());
}

// What a user is told about a bad topic or pattern: the first fault, named.
TEST(Topic, ARefusalNamesTheFault) {
  auto why = [](const Status& s) { return s.ok() ? std::string("ok") : s.error().message(); };
  EXPECT_EQ(why(ValidateTopic("")), "topic is empty");
  EXPECT_EQ(why(ValidateTopic(std::string(1025, 'a'))), "topic is longer than 1024 bytes");
  EXPECT_EQ(why(ValidateTopic("orders..new")), "topic 'orders..new' has an empty token");
  EXPECT_EQ(why(ValidateTopic("orders.")), "topic 'orders.' has an empty token");
  EXPECT_EQ(why(ValidateTopic("or ders.*")), "topic 'or ders.*' contains whitespace");
  const std::string with_nul("a.b\0c", 5);
  EXPECT_EQ(why(ValidateTopic(with_nul)), "topic '" + with_nul + "' contains whitespace");
  EXPECT_EQ(why(ValidateTopic("orders.*.x y")), "topic 'orders.*.x y' contains a wildcard");
  EXPECT_EQ(why(ValidatePattern("orders.n*")), "pattern 'orders.n*' mixes a wildcard with other characters");
  EXPECT_EQ(why(ValidatePattern("orders.>.eu")), "pattern 'orders.>.eu' has '>' before the last token");
  EXPECT_EQ(why(ValidatePattern("*.a\tb")), "pattern '*.a\tb' contains whitespace");
  EXPECT_OK(ValidateTopic(std::string(1024, 'a')));
}

TEST(Topic, Matching) {
  EXPECT_TRUE(TopicMatches("orders", "orders"));
  EXPECT_FALSE(TopicMatches("orders", "orders.new"));
  EXPECT_TRUE(TopicMatches("orders.*", "orders.new"));
  EXPECT_FALSE(TopicMatches("orders.*", "orders"));
  EXPECT_FALSE(TopicMatches("orders.*", "orders.new.eu"));
  EXPECT_TRUE(TopicMatches("orders.>", "orders.new"));
  EXPECT_TRUE(TopicMatches("orders.>", "orders.new.eu"));
  EXPECT_FALSE(TopicMatches("orders.>", "orders"));
  EXPECT_TRUE(TopicMatches(">", "a"));
  EXPECT_TRUE(TopicMatches("*.new.*", "orders.new.eu"));
  EXPECT_FALSE(TopicMatches("*.new.*", "orders.old.eu"));
  EXPECT_FALSE(TopicMatches("orders.new", "orders.newer"));
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

TEST(PatternCovers, WildcardsCoverWhatTheyMatch) {
  EXPECT_TRUE(PatternCovers(">", "a.b.c"));
  EXPECT_TRUE(PatternCovers("orders.>", "orders.*.eu"));
  EXPECT_TRUE(PatternCovers("orders.>", "orders.>"));
  EXPECT_TRUE(PatternCovers("orders.*", "orders.new"));
  EXPECT_TRUE(PatternCovers("orders.*", "orders.*"));
  EXPECT_TRUE(PatternCovers("a.b", "a.b"));
  EXPECT_FALSE(PatternCovers("orders.*", "orders.>"));
  EXPECT_FALSE(PatternCovers("orders.*", "orders.new.eu"));
  EXPECT_FALSE(PatternCovers("orders.new", "orders.*"));
  EXPECT_FALSE(PatternCovers("orders.>", "orders"));
  EXPECT_FALSE(PatternCovers("a.b", "a.b.c"));
  EXPECT_FALSE(PatternCovers("a.b.c", "a.b"));
}

}  // namespace
}  // namespace ferry
