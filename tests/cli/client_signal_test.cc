// `ferry subscribe` and `ferry request` stop on Ctrl-C (SIGINT) and SIGTERM
// with 130 and 143, as a user expects of a command that waits, and leave no
// half-printed message behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "ferry/control.h"
#include "support/ferry_process.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

// A `ferry` command started as a child with its stdout on a pipe.
class Command {
 public:
  explicit Command(std::vector<std::string> args) {
    args.insert(args.begin(), "ferry");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test
      ::dup2(out[1], 1);
      ::execv(FERRY_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    ::fcntl(out_, F_SETFL, O_NONBLOCK);
  }
  ~Command() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  bool started() const { return pid_ > 0; }
  void Signal(int signal) { ::kill(pid_, signal); }

  // What it printed so far.
  const std::string& Output() {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_, buf, sizeof buf)) > 0) output_.append(buf, static_cast<std::size_t>(n));
    return output_;
  }

  // The exit code once it exited within `limit`; -1 if it did not (it is
  // then killed) or was ended by a signal instead of exiting.
  int WaitExit(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
};

// Generous for two busy cores; without the fix the commands never exit.
constexpr auto kPromptly = 5s;

const char* kGreeter =
    "[[component]]\nname = \"greeter\"\npath = \"$COMPONENTS/greeter.wasm\"\n"
    "subscribe = [\"greet\"]\n";

class ClientSignal : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { ASSERT_OK(ferry_.Start()); }

  Message Ping() {
    Message m;
    m.topic = "news.ping";
    m.data = Bytes::FromString("ping");
    return m;
  }

  // Before ferry_: a failed test kills the host first, which ends the
  // subscription this waits for.
  std::future<Status> watch_;
  FerryProcess ferry_{kGreeter};
};

TEST_P(ClientSignal, SubscribeExitsWith128PlusTheSignal) {
  Command subscribe({"subscribe", "news.>", "--control", ferry_.control_socket().string()});
  ASSERT_TRUE(subscribe.started());
  // Publish until the subscriber prints: then it is subscribed and waiting.
  for (int i = 0; i < 200 && subscribe.Output().empty(); ++i) {
    ASSERT_OK(ControlPublish(ferry_.control_socket(), "default", Ping()));
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(subscribe.Output().empty()) << "the subscriber never printed";

  subscribe.Signal(GetParam());
  EXPECT_EQ(subscribe.WaitExit(kPromptly), 128 + GetParam());
  const std::string out = subscribe.Output();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n') << "a half-written line: " << out;
  // Whole messages only.
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = out.find('\n', at);
    EXPECT_EQ(out.substr(at, end - at), "news.ping ping");
    at = end + 1;
  }
  // The host is unharmed.
  EXPECT_OK(ControlPublish(ferry_.control_socket(), "default", Ping()));
}

TEST_P(ClientSignal, RequestNobodyAnswersExitsWith128PlusTheSignal) {
  // Watch the topic to know when the request is out and `ferry request` is
  // waiting for a reply that will never come.
  // Shared with the watching thread, which may outlive a failed test body.
  auto watching = std::make_shared<std::promise<void>>();
  auto asked = std::make_shared<std::promise<void>>();
  const std::filesystem::path socket = ferry_.control_socket();
  watch_ = std::async(std::launch::async, [socket, watching, asked] {
    return ControlSubscribe(
        socket, "default", "nobody.home", 1,
        [asked](const Message&) {
          asked->set_value();
          return false;
        },
        [watching] { watching->set_value(); });
  });
  ASSERT_EQ(watching->get_future().wait_for(10s), std::future_status::ready);

  Command request({"request", "nobody.home", "hello", "--timeout", "600000", "--control",
                   ferry_.control_socket().string()});
  ASSERT_TRUE(request.started());
  ASSERT_EQ(asked->get_future().wait_for(20s), std::future_status::ready);
  EXPECT_OK(watch_.get());

  request.Signal(GetParam());
  EXPECT_EQ(request.WaitExit(kPromptly), 128 + GetParam());
  EXPECT_EQ(request.Output(), "");
}

INSTANTIATE_TEST_SUITE_P(Signals, ClientSignal, ::testing::Values(SIGINT, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGINT ? "Sigint" : "Sigterm");
                         });

}  // namespace
}  // namespace ferry::testing
