// Short assertions on Ferry's Status and Result.
#pragma once

#include <gtest/gtest.h>

#include "ferry/result.h"

namespace ferry::testing {

inline ::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.error().ToString();
}
template <typename T>
::testing::AssertionResult IsOk(const Result<T>& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.error().ToString();
}

}  // namespace ferry::testing

#define ASSERT_OK(expr) ASSERT_TRUE(::ferry::testing::IsOk(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(::ferry::testing::IsOk(expr))
