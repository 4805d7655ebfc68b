// `ferry publish` and `ferry subscribe` as a user runs them against a
// running host: bodies from an argument, standard input or a file, byte for
// byte; repeated publishes at a rate; and the three ways subscribe prints.
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ferry/control.h"
#include "support/ferry_process.h"
#include "support/host_fixture.h"
#include "support/matchers.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

struct Outcome {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `ferry <args>` through the shell (so `args` may pipe into it).
Outcome Ferry(const TempDir& dir, const std::string& args) {
  const auto err = dir.path() / "stderr.txt";
  const std::string cmd = std::string("set -o pipefail; ") + args + " 2>" + err.string();
  std::string full = "bash -c '" + cmd + "'";
  FILE* p = ::popen(full.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = ::pclose(p);
  std::ifstream in(err);
  std::stringstream e;
  e << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, e.str()};
}

std::string Bin() { return FERRY_BINARY; }

class MessageCli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(host_.Start()); }
  std::string Sock() const { return " --control " + host_.control_socket().string(); }

  // Collects what arrives on `pattern` through the control socket.
  struct Collector {
    std::mutex mutex;
    std::vector<Message> got;
    std::atomic<bool> ready{false};
    std::stop_source stop;
    std::thread thread;
    ~Collector() {
      stop.request_stop();
      if (thread.joinable()) thread.join();
    }
    std::vector<Message> WaitFor(std::size_t n) {
      for (int i = 0; i < 500; ++i) {
        {
          std::lock_guard lock(mutex);
          if (got.size() >= n) return got;
        }
        std::this_thread::sleep_for(20ms);
      }
      std::lock_guard lock(mutex);
      return got;
    }
  };
  void Collect(Collector& c, const std::string& pattern) {
    c.thread = std::thread([this, &c, pattern] {
      (void)ControlSubscribe(
          host_.control_socket(), "default", pattern, 0,
          [&c](const Message& m) {
            std::lock_guard lock(c.mutex);
            c.got.push_back(m);
            return true;
          },
          [&c] { c.ready = true; }, c.stop.get_token());
    });
    for (int i = 0; i < 500 && !c.ready; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(c.ready);
  }

  // Runs `ferry subscribe <args> -n 1` and publishes `m` until it printed.
  Outcome SubscribeOnce(const std::string& args, const Message& m) {
    auto done = std::async(std::launch::async, [&] {
      return Ferry(dir_, Bin() + " subscribe " + args + " -n 1" + Sock());
    });
    while (done.wait_for(100ms) != std::future_status::ready)
      (void)ControlPublish(host_.control_socket(), "default", m);
    return done.get();
  }

  TempDir dir_;
  FerryProcess host_{"[brokers]\ndefault = \"mem://\"\n[[component]]\nname = \"greeter\"\n"
                     "path = \"$COMPONENTS/greeter.wasm\"\nsubscribe = [\"cli.greet\"]\n"};
};

std::string BinaryBody() {
  std::string b;
  for (int i = 0; i < 256; ++i) b.push_back(static_cast<char>(i));
  return b + b;
}

TEST_F(MessageCli, PublishTakesTheBodyFromStandardInputOrAFileByteForByte) {
  Collector c;
  Collect(c, "cli.bin");
  const auto file = dir_.Write("body.bin", BinaryBody());
  Outcome piped = Ferry(dir_, "cat " + file.string() + " | " + Bin() + " publish cli.bin -" + Sock());
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  Outcome from_file = Ferry(dir_, Bin() + " publish cli.bin --file " + file.string() + " -H k=v -t application/x-test" + Sock());
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  auto got = c.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].data.view() == BinaryBody());
  EXPECT_TRUE(got[1].data.view() == BinaryBody());
  EXPECT_EQ(got[1].metadata.Get("k"), "v");
  EXPECT_EQ(got[1].content_type, "application/x-test");
}

TEST_F(MessageCli, PublishCountAndRateSendThatMany) {
  Collector c;
  Collect(c, "cli.many");
  const auto start = std::chrono::steady_clock::now();
  Outcome r = Ferry(dir_, Bin() + " publish cli.many tick --count 40 --rate 200" + Sock());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("published 40 messages in"));
  EXPECT_EQ(c.WaitFor(40).size(), 40u);
  // 40 at 200 per second cannot take less than 39 gaps of 5 ms.
  EXPECT_GE(took, 195ms);
}

TEST_F(MessageCli, PublishWithoutABodyOrWithTwoIsAUsageError) {
  for (const std::string& args : {std::string(" publish cli.x"), std::string(" publish cli.x hi --file /dev/null"),
                                  std::string(" publish cli.x --file /nonexistent/body")}) {
    SCOPED_TRACE(args);
    Outcome r = Ferry(dir_, Bin() + args + Sock());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("ferry: "));
  }
}

TEST_F(MessageCli, SubscribeRawWritesTheBodyExactly) {
  Message m;
  m.topic = "cli.raw";
  m.data = Bytes::FromString(BinaryBody());
  Outcome r = SubscribeOnce("cli.raw --raw", m);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == BinaryBody()) << r.out.size() << " bytes";
}

TEST_F(MessageCli, SubscribeJsonGivesTextOrBase64AndEveryMetadataEntry) {
  Message text;
  text.topic = "cli.json";
  text.data = Bytes::FromString("h\xC3\xA9llo \"quoted\"");
  text.content_type = "text/plain";
  text.metadata.Set("k", "v");
  Outcome r = SubscribeOnce("cli.json --json", text);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"content_type\":\"text/plain\",\"data\":\"h\xC3\xA9llo \\\"quoted\\\"\","
                   "\"metadata\":[[\"k\",\"v\"]],\"topic\":\"cli.json\"}\n");
  Message binary;
  binary.topic = "cli.json";
  binary.data = Bytes::FromString(std::string("\x00\xFF\x01", 3));
  r = SubscribeOnce("cli.json --json", binary);
  EXPECT_EQ(r.out, "{\"content_type\":null,\"data_base64\":\"AP8B\",\"metadata\":[],\"topic\":\"cli.json\"}\n");
}

TEST_F(MessageCli, SubscribeShowsBinaryBodiesAsBase64NotRawBytes) {
  Message binary;
  binary.topic = "cli.text";
  binary.data = Bytes::FromString(std::string("\x1B[2J\xFF", 5));  // would clear a terminal
  Outcome r = SubscribeOnce("cli.text", binary);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "cli.text base64:G1sySv8=\n");
  Outcome both = Ferry(dir_, Bin() + " subscribe cli.text --raw --json -n 1" + Sock());
  EXPECT_EQ(both.exit_code, 2);
}

TEST_F(MessageCli, BenchReportsRatesAndLatencyForEverySubscriber) {
  Outcome r = Ferry(dir_, Bin() + " bench cli.bench --msgs 300 --size 64 --pub 2 --sub 2" + Sock());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("publish: 300 messages of 64 bytes from 2 publisher(s) at "));
  EXPECT_THAT(r.out, HasSubstr("subscriber 1: 300 messages at "));
  EXPECT_THAT(r.out, HasSubstr("subscriber 2: 300 messages at "));
  EXPECT_THAT(r.out, HasSubstr("publish to delivery p50 "));
}

TEST_F(MessageCli, BenchTimesRequestRoundTripsAndSaysWhenNoneAnswer) {
  Outcome r = Ferry(dir_, Bin() + " bench cli.greet --request --msgs 40" + Sock());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("request: 40 round trips from 1 client(s) at "));
  EXPECT_THAT(r.out, HasSubstr(" p99 "));
  Outcome none = Ferry(dir_, Bin() + " bench cli.nobody --request --msgs 2 --timeout 100" + Sock());
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, "ferry: 2 of 2 requests failed, e.g.: no reply on cli.nobody within 100 ms\n");
}

}  // namespace
}  // namespace ferry::testing
