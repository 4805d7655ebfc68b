// `ferry completions`: the scripts are generated from the command line
// itself; bash completes commands, options and files with them, and the zsh
// one is valid zsh naming every command.
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/host_fixture.h"
#include "support/shell.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;

// Runs `script` with bash (the completion script is bash's).
std::string Bash(const std::string& script) { return Shell("bash -c '" + script + "'"); }

// What bash offers for the words typed so far (the last one being completed).
std::string Complete(const std::string& words) {
  return Bash("source <(" + std::string(FERRY_BINARY) + " completions bash) && COMP_WORDS=(" + words +
               ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _ferry && echo \"${COMPREPLY[*]}\"");
}

TEST(Completions, BashCompletesCommandsOptionsAndFiles) {
  EXPECT_EQ(Complete("ferry sub"), "subscribe\n");
  EXPECT_EQ(Complete("ferry subscribe --r"), "--raw\n");
  EXPECT_EQ(Complete("ferry new x --l"), "--lang\n");
  EXPECT_EQ(Complete("ferry publish a.b --co"), "--content-type --control --count\n");
  TempDir dir;
  dir.Write("app.toml", "");
  dir.Write("echo.wasm", "");
  dir.Write("notes.txt", "");
  EXPECT_EQ(Complete("ferry run --config " + (dir.path() / "app.t").string()),
            (dir.path() / "app.toml").string() + "\n");
  // A component argument offers .wasm files only.
  EXPECT_EQ(Complete("ferry inspect " + (dir.path() / "").string()), (dir.path() / "echo.wasm").string() + "\n");
  // After an option that takes a value, nothing is guessed.
  EXPECT_EQ(Complete("ferry subscribe -n \"\""), "\n");
}

TEST(Completions, ZshScriptIsValidAndNamesEveryCommand) {
  const std::string script = Bash(std::string(FERRY_BINARY) + " completions zsh > /tmp/ferry-test-_ferry && zsh -n /tmp/ferry-test-_ferry && echo valid && cat /tmp/ferry-test-_ferry");
  EXPECT_THAT(script, ::testing::StartsWith("valid\n#compdef ferry\n"));
  for (const char* command : {"run", "publish", "request", "subscribe", "inspect", "new"})
    EXPECT_THAT(script, HasSubstr(std::string("        ") + command + ") _arguments")) << command;
  EXPECT_THAT(script, HasSubstr("{-c,--config}'[A ferry.toml naming brokers and components]:path:_files'"));
}

TEST(Completions, AnUnknownShellIsAUsageError) {
  const std::string out = Bash(std::string(FERRY_BINARY) + " completions fish; echo \"exit $?\"");
  EXPECT_THAT(out, HasSubstr("exit 2"));
}

}  // namespace
}  // namespace ferry::testing
