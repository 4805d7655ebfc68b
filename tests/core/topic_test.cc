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
