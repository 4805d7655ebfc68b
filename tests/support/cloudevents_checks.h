// What the CloudEvents round-trip tests of every broker with headers share:
// the two components (misbehave reports what it got, echo stamps its sends
// as its own events) and the check that the test event's binding
// attributes reached the component as ce- keys.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace ferry::testing {

// misbehave on "<prefix>.inspect"; echo on "<prefix>.echo", stamping
// "com.example.echoed" events (output on echo.out).
inline std::string CloudEventsComponents(const std::string& prefix) {
  return "[[component]]\npath = \"$COMPONENTS/misbehave.wasm\"\nsubscribe = [\"" + prefix +
         ".inspect\"]\n\n[[component]]\npath = \"$COMPONENTS/echo.wasm\"\nsubscribe = [\"" + prefix +
         ".echo\"]\ncloudevents_type = \"com.example.echoed\"\n";
}

// The test event: specversion 1.0, id ev-1, source /sensors/7, type
// com.example.reading; `inspected` is what misbehave's "inspect" sent.
inline void ExpectTheTestEventAsCeKeys(const std::string& inspected) {
  EXPECT_THAT(inspected, ::testing::HasSubstr("ce-specversion=1.0"));
  EXPECT_THAT(inspected, ::testing::HasSubstr("ce-id=ev-1"));
  EXPECT_THAT(inspected, ::testing::HasSubstr("ce-source=/sensors/7"));
  EXPECT_THAT(inspected, ::testing::HasSubstr("ce-type=com.example.reading"));
}

}  // namespace ferry::testing
