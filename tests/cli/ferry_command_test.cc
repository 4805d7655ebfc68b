// The `ferry` command as a user runs it: exit codes, one-line errors, the
// control socket, and a clean exit on SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "support/ferry_process.h"
#include "support/host_fixture.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Output {
  int exit_code;
  std::string text;  // stdout and stderr together
};

Output Ferry(const std::string& args) {
  const std::string cmd = std::string(FERRY_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string text;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) text.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

TEST(FerryCommand, MalformedConfigExitsTwoWithOneLine) {
  TempDir dir;
  auto config = dir.Write("ferry.toml", "[[component]]\npath = \"nowhere.wasm\"\n");
  Output out = Ferry("run --config " + config.string());
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.text, "ferry: ferry.toml:2: component[0].path: no such file: " +
                          (dir.path() / "nowhere.wasm").string() + "\n");
}

TEST(FerryCommand, BadComponentExitsOne) {
  Output out = Ferry("run " + Component("core_module").string() + " --control /tmp/ferry-test-unused.sock");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.text, HasSubstr("is a core WebAssembly module, not a component"));
}

TEST(FerryCommand, PublishWithoutARunningHostSaysSo) {
  Output out = Ferry("publish a.b hi --control /tmp/ferry-test-nobody-listens.sock");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.text, HasSubstr("no ferry is listening on /tmp/ferry-test-nobody-listens.sock"));
}

TEST(FerryCommand, InspectPrintsShape) {
  Output out = Ferry("inspect " + Component("greeter").string());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_THAT(out.text, HasSubstr("wasi:messaging/request-reply@0.2.0-draft"));
  EXPECT_THAT(out.text, HasSubstr("runnable: yes"));
}

TEST(FerryCommand, InspectShowsOutgoingHttp) {
  Output out = Ferry("inspect " + Component("fetcher_js").string());
  EXPECT_EQ(out.exit_code, 0) << out.text;
  EXPECT_THAT(out.text, HasSubstr("wasi:http/outgoing-handler@0.2."));
  EXPECT_THAT(out.text, HasSubstr("outgoing HTTP: yes"));
  EXPECT_THAT(out.text, HasSubstr("runnable: yes"));
  Output plain = Ferry("inspect " + Component("greeter").string());
  EXPECT_THAT(plain.text, Not(HasSubstr("outgoing HTTP")));
}

TEST(FerryCommand, RunServesRequestsAndStopsCleanlyOnSigterm) {
  TempDir dir;
  const auto sock = dir.path() / "ctl.sock";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(FERRY_BINARY, "ferry", "run", Component("greeter").c_str(), "--subscribe", "greet",
            "--control", sock.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 300 && !SocketAccepting(sock); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Output reply = Ferry("request greet cli --timeout 5000 --control " + sock.string());
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_THAT(reply.text, HasSubstr("hello, cli"));
  Output published = Ferry("publish greet x --header a=b --control " + sock.string());
  EXPECT_EQ(published.exit_code, 0) << published.text;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(sock));
}

}  // namespace
}  // namespace ferry::testing
