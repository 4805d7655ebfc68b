// `ferry new`: what it writes, and the one-line refusals (exit 2) for a bad
// name, an unknown language or world, and a directory that is not empty.
// Building and running each template is tests/cli/new_template_test.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/host_fixture.h"
#include "support/shell.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs ferry in `dir` and returns its output followed by "exit N".
std::string FerryIn(const std::filesystem::path& dir, const std::string& args) {
  return Shell("(cd '" + dir.string() + "' && " + FERRY_BINARY + " " + args + "; echo \"exit $?\")");
}

std::string Read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(NewCommand, WritesSourceBuildScriptWitAndReadme) {
  TempDir dir;
  const std::string out = FerryIn(dir.path(), "new orders --lang python --world request-reply");
  EXPECT_THAT(out, HasSubstr("next: cd orders && ./build.sh && ferry run orders.wasm -s orders.in\nexit 0"));
  const auto project = dir.path() / "orders";
  EXPECT_THAT(Read(project / "app.py"), HasSubstr("request_reply.reply(message, reply)"));
  const std::string build = Read(project / "build.sh");
  EXPECT_THAT(build, HasSubstr("-w messaging-request-reply componentize -o orders.wasm app"));
  EXPECT_THAT(build, Not(HasSubstr("@")));  // every placeholder filled
  EXPECT_TRUE((std::filesystem::status(project / "build.sh").permissions() &
               std::filesystem::perms::owner_exec) != std::filesystem::perms::none);
  EXPECT_THAT(Read(project / "wit" / "request-reply.wit"), HasSubstr("interface request-reply"));
  EXPECT_THAT(Read(project / "README.md"), HasSubstr("ferry request orders.in world"));
}

TEST(NewCommand, ZeroOneZeroProjectsCarryThatPackage) {
  TempDir dir;
  EXPECT_THAT(FerryIn(dir.path(), "new old --lang cpp --world 0.1.0 --dir here"),
              HasSubstr("next: cd here && ./build.sh && ferry run old.wasm\nexit 0"));
  EXPECT_THAT(Read(dir.path() / "here" / "wit" / "messaging.wit"), HasSubstr("wasi:messaging@0.1.0"));
  EXPECT_THAT(Read(dir.path() / "here" / "app.cc"), HasSubstr("\"old.in\""));
}

TEST(NewCommand, AsyncProjectsCarryTheAsyncPackageAndAnAsyncHandler) {
  TempDir dir;
  const std::string c = FerryIn(dir.path(), "new quick --lang c --world async");
  EXPECT_THAT(c, HasSubstr("(world messaging-core, async) in app.c"));
  EXPECT_THAT(c,
              HasSubstr("next: cd quick && ./build.sh && ferry run quick.wasm -s quick.in\nexit 0"));
  const auto quick = dir.path() / "quick";
  // The callback form: state on the heap, found again in the callback.
  const std::string app = Read(quick / "app.c");
  EXPECT_THAT(app, HasSubstr("messaging_core_callback_code_t "
                             "exports_wasi_messaging_incoming_handler_handle("));
  EXPECT_THAT(app, HasSubstr("calloc(1, sizeof *t)"));
  EXPECT_THAT(app, HasSubstr("\"quick.out\""));
  EXPECT_THAT(app, Not(HasSubstr("@")));
  EXPECT_THAT(Read(quick / "build.sh"), HasSubstr("--world messaging-core"));
  EXPECT_THAT(Read(quick / "wit" / "producer.wit"), HasSubstr("send: async func("));
  EXPECT_THAT(Read(quick / "README.md"), HasSubstr("max_concurrent_per_instance"));

  EXPECT_THAT(FerryIn(dir.path(), "new asker --lang python --world async-request-reply"),
              HasSubstr("(world messaging-request-reply, async) in app.py"));
  const auto asker = dir.path() / "asker";
  EXPECT_THAT(Read(asker / "app.py"), HasSubstr("async def handle("));
  EXPECT_THAT(Read(asker / "app.py"), HasSubstr("await request_reply.reply(message, reply)"));
  EXPECT_THAT(Read(asker / "build.sh"), HasSubstr("-w messaging-request-reply componentize -o asker.wasm app"));
  EXPECT_THAT(Read(asker / "wit" / "request-reply.wit"), HasSubstr("reply: async func("));
  EXPECT_THAT(Read(asker / "README.md"), HasSubstr("ferry request asker.in world"));
}

TEST(NewCommand, RefusesWithOneLineAndExitTwo) {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "busy");
  std::ofstream(dir.path() / "busy" / "file") << "x";
  dir.Write("plain", "x");
  const struct {
    const char* args;
    const char* says;
  } cases[] = {
      {"new 9lives --lang c", "ferry: new: '9lives' is not a usable name"},
      {"new a.b --lang c", "ferry: new: 'a.b' is not a usable name"},
      {"new ../x --lang c", "ferry: new: '../x' is not a usable name"},
      {"new ok --lang rust", "ferry: new: unknown --lang 'rust' (one of c, cpp, python, js)"},
      {"new ok --lang c --world 0.2",
       "ferry: new: unknown --world '0.2' (one of core, request-reply, 0.1.0, async, async-request-reply)"},
      {"new ok --lang js --world 0.1.0",
       "ferry: new: --world 0.1.0 has no js template (0.1.0: c, cpp; js: core, request-reply)"},
      {"new ok --lang cpp --world async",
       "ferry: new: --world async has no cpp template (async: c, python; cpp: core, request-reply, 0.1.0)"},
      {"new ok --lang js --world async-request-reply",
       "ferry: new: --world async-request-reply has no js template (async-request-reply: c, python; js: "
       "core, request-reply)"},
      {"new busy --lang c", "ferry: new: busy already exists and is not empty"},
      {"new ok --lang c --dir plain", "ferry: new: plain exists and is not a directory"},
      {"new ok", "ferry: --lang is required"},
  };
  for (const auto& c : cases) {
    const std::string out = FerryIn(dir.path(), c.args);
    EXPECT_THAT(out, ::testing::StartsWith(c.says)) << c.args;
    EXPECT_THAT(out, ::testing::EndsWith("\nexit 2\n")) << c.args;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << c.args << ": " << out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "ok"));
}

TEST(NewCommand, AnEmptyDirectoryIsUsed) {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "empty");
  EXPECT_THAT(FerryIn(dir.path(), "new empty --lang js"), HasSubstr("exit 0"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "empty" / "app.js"));
}

// With none of its tools reachable, build.sh names every one on one line.
TEST(NewCommand, BuildScriptNamesWhatIsMissingOnOneLine) {
  TempDir dir;
  ASSERT_THAT(FerryIn(dir.path(), "new bare --lang cpp"), HasSubstr("exit 0"));
  ASSERT_THAT(FerryIn(dir.path(), "new barejs --lang js"), HasSubstr("exit 0"));
  ASSERT_THAT(FerryIn(dir.path(), "new barepy --lang python"), HasSubstr("exit 0"));
  const std::string env = "env -i HOME='" + dir.path().string() + "' PATH=/nonexistent WASI_SYSROOT=/nonexistent /bin/bash ";
  const std::string cpp = Shell("(" + env + (dir.path() / "bare" / "build.sh").string() + "; echo \"exit $?\")");
  EXPECT_THAT(cpp, ::testing::StartsWith(
                       "build.sh: missing: clang (apt-get install clang-14); clang++ (apt-get install "
                       "clang-14); wit-bindgen (cargo install --locked wit-bindgen-cli@0.63.0); "
                       "wasm-tools (cargo install --locked wasm-tools@1.263.0); wasi-libc in "
                       "/nonexistent/lib/wasm32-wasi"));
  EXPECT_THAT(cpp, HasSubstr("reactor adapter at " + dir.path().string() + "/.cache/ferry/"));
  EXPECT_THAT(cpp, ::testing::EndsWith("\nexit 1\n"));
  EXPECT_EQ(std::count(cpp.begin(), cpp.end(), '\n'), 2) << cpp;
  const std::string js = Shell("(" + env + (dir.path() / "barejs" / "build.sh").string() + "; echo \"exit $?\")");
  EXPECT_THAT(js, ::testing::StartsWith("build.sh: missing: node (Node.js 20 or newer); componentize-js ("));
  EXPECT_EQ(std::count(js.begin(), js.end(), '\n'), 2) << js;
  const std::string py = Shell("(" + env + (dir.path() / "barepy" / "build.sh").string() + "; echo \"exit $?\")");
  EXPECT_THAT(py, ::testing::StartsWith("build.sh: missing: componentize-py ("));
  EXPECT_THAT(py, ::testing::EndsWith("\nexit 1\n"));
}

}  // namespace
}  // namespace ferry::testing
