// SIGHUP reloads ferry.toml: the new components run, in-flight work is not
// lost, and a config that fails to load leaves the running one in place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "support/ferry_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// `ferry request` against a running process; returns its output.
std::string Request(const FerryProcess& p, const std::string& topic, const std::string& data) {
  const std::string cmd = std::string(FERRY_BINARY) + " request " + topic + " " + data +
                          " --timeout 3000 --control " + p.control_socket().string() + " 2>&1";
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  char buf[512];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  ::pclose(f);
  return out;
}

// Waits until `topic` answers (the control socket comes back after reload).
std::string RequestUntilAnswered(const FerryProcess& p, const std::string& topic, const std::string& data) {
  std::string out;
  for (int i = 0; i < 100; ++i) {
    out = Request(p, topic, data);
    if (out.find("hello") != std::string::npos || out.find("HELLO") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  return out;
}

const char* kGreeter = "[[component]]\nname = \"greeter\"\npath = \"$COMPONENTS/greeter.wasm\"\nsubscribe = [\"greet\"]\n";
const char* kShouter = "[[component]]\nname = \"shouter\"\npath = \"$COMPONENTS/shouter.wasm\"\nsubscribe = [\"shout\"]\n";

TEST(Reload, SighupStartsTheNewConfiguration) {
  FerryProcess ferry(kGreeter);
  ASSERT_OK(ferry.Start());
  EXPECT_THAT(Request(ferry, "greet", "one"), HasSubstr("hello, one"));
  ferry.Rewrite(std::string(kGreeter) + kShouter);
  ferry.Signal(SIGHUP);
  EXPECT_THAT(RequestUntilAnswered(ferry, "shout", "two"), HasSubstr("HELLO, TWO"));
  EXPECT_THAT(Request(ferry, "greet", "three"), HasSubstr("hello, three"));
  EXPECT_EQ(ferry.Stop(), 0);
  EXPECT_THAT(ferry.Log(), HasSubstr("reloaded"));
}

TEST(Reload, ABrokenConfigurationLeavesTheRunningOneAndSaysWhy) {
  FerryProcess ferry(kGreeter);
  ASSERT_OK(ferry.Start());
  EXPECT_THAT(Request(ferry, "greet", "before"), HasSubstr("hello, before"));
  ferry.Rewrite(std::string(kGreeter) + "[[component]]\npath = \"$COMPONENTS/core_module.wasm\"\n");
  ferry.Signal(SIGHUP);
  EXPECT_THAT(Request(ferry, "greet", "still"), HasSubstr("hello, still"));
  ferry.Rewrite("this is = = not toml");
  ferry.Signal(SIGHUP);
  EXPECT_THAT(Request(ferry, "greet", "again"), HasSubstr("hello, again"));
  EXPECT_EQ(ferry.Stop(), 0);
  const std::string log = ferry.Log();
  EXPECT_THAT(log, HasSubstr("reload failed, the running configuration stays"));
  EXPECT_THAT(log, HasSubstr("is a core WebAssembly module"));
  EXPECT_THAT(log, HasSubstr("TOML syntax error"));
}

}  // namespace
}  // namespace ferry::testing
