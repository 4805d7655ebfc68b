// The on-disk compilation cache: a component compiled once loads from its
// entry afterwards, and the cache stays within its limit by removing the
// entries used least recently, never the one just written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>

#include "support/host_fixture.h"
#include "support/log_capture.h"
#include "support/matchers.h"
#include "wasm/engine.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

std::set<std::string> Names(const std::filesystem::path& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// A stand-in entry of `mib` MiB, last used `age` ago.
void Entry(const std::filesystem::path& path, std::size_t mib, std::chrono::hours age) {
  std::ofstream(path, std::ios::binary) << std::string(mib << 20, 'x');
  std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::now() - age);
}

TEST(CompileCache, StaysWithinItsLimitRemovingWhatWasUsedLeastRecently) {
  TempDir dir;
  Entry(dir.path() / "old.cwasm", 2, 48h);
  Entry(dir.path() / "recent.cwasm", 2, 1h);
  Entry(dir.path() / "dead-writer.cwasm.tmp123", 1, 2h);
  Entry(dir.path() / "fresh-writer.cwasm.tmp456", 1, 0h);
  Entry(dir.path() / "notes.txt", 1, 72h);  // not Ferry's
  auto engine = wasm::Engine::Create({.cache_dir = dir.path(), .cache_max_bytes = 3u << 20});
  ASSERT_OK(engine);
  LogCapture log;
  auto compiled = (*engine)->LoadComponent(Component("echo"));
  ASSERT_OK(compiled);

  const std::set<std::string> left = Names(dir.path());
  EXPECT_FALSE(left.count("old.cwasm")) << "the entry used least recently goes first";
  EXPECT_TRUE(left.count("recent.cwasm")) << "within the limit once the old one went";
  EXPECT_FALSE(left.count("dead-writer.cwasm.tmp123"));
  EXPECT_TRUE(left.count("fresh-writer.cwasm.tmp456")) << "a writer may still be at work";
  EXPECT_TRUE(left.count("notes.txt"));
  std::size_t compiled_entries = 0;
  for (const std::string& n : left)
    if (n.ends_with(".cwasm") && n != "recent.cwasm") ++compiled_entries;
  EXPECT_EQ(compiled_entries, 1u) << "the new entry is kept";
  EXPECT_TRUE(log.WaitFor("removed 1 entries used least recently"));
}

TEST(CompileCache, ALoadedEntryCountsAsRecentlyUsed) {
  TempDir dir;
  {
    auto engine = wasm::Engine::Create({.cache_dir = dir.path()});
    ASSERT_OK(engine);
    ASSERT_OK((*engine)->LoadComponent(Component("echo")));
  }
  std::filesystem::path entry;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entry = e.path();
  ASSERT_FALSE(entry.empty());
  std::filesystem::last_write_time(entry, std::filesystem::file_time_type::clock::now() - 100h);
  Entry(dir.path() / "other.cwasm", 1, 50h);
  auto engine = wasm::Engine::Create({.cache_dir = dir.path(), .cache_max_bytes = 1u << 20});
  ASSERT_OK(engine);
  ASSERT_OK((*engine)->LoadComponent(Component("echo")));  // from the cache: touched
  ASSERT_OK((*engine)->LoadComponent(Component("transformer")));  // written: prunes
  const std::set<std::string> left = Names(dir.path());
  EXPECT_TRUE(left.count(entry.filename().string())) << "the echo's entry was used just now";
  EXPECT_FALSE(left.count("other.cwasm"));
}

TEST(CompileCache, ZeroMeansNoLimitAndAConfigSetsIt) {
  TempDir dir;
  Entry(dir.path() / "old.cwasm", 2, 480h);
  auto engine = wasm::Engine::Create({.cache_dir = dir.path(), .cache_max_bytes = 0});
  ASSERT_OK(engine);
  ASSERT_OK((*engine)->LoadComponent(Component("echo")));
  EXPECT_TRUE(Names(dir.path()).count("old.cwasm"));

  HostOptions options;
  options.config_file = dir.Write("ferry.toml", "[host]\ncache_max_mb = -1\n");
  auto host = Host::Create(options);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.error().message(), ::testing::HasSubstr("host.cache_max_mb"));
}

}  // namespace
}  // namespace ferry::testing
