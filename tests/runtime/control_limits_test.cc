// The control socket under pressure: connections past the cap are refused
// with an error instead of getting a thread each, and a malformed or
// oversized frame ends only the connection that sent it.
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "brokers/mem/mem_broker.h"
#include "ferry/control.h"
#include "ferry/host.h"
#include "runtime/control_protocol.h"
#include "runtime/control_server.h"
#include "support/host_fixture.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ferry::testing::TempDir;

Message Msg(const std::string& topic, const std::string& data) {
  Message m;
  m.topic = topic;
  m.data = Bytes::FromString(data);
  return m;
}

// A raw connection that reads with a generous timeout, so a server that
// never answers fails the test instead of hanging it.
class RawConnection {
 public:
  explicit RawConnection(const std::filesystem::path& path) {
    auto addr = control::SocketAddress(path);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    timeval limit{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // The status of the next reply frame.
  Status ReadOutcome() {
    auto frame = control::ReadFrame(fd_);
    if (!frame.ok()) return frame.error();
    control::Reader r(*frame);
    return r.Outcome();
  }
  // True once the server closed its end (a read sees end of stream).
  bool ClosedByServer() {
    char byte;
    return ::recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
};

std::string PublishFrame(const std::string& topic) {
  control::Request request;
  request.op = control::kPublish;
  request.message = Msg(topic, "x");
  return control::EncodeRequest(request);
}

// Threads of this process, from /proc/self/status.
int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

class ControlLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(broker_->Connect()); }

  void StartServer(ControlServerOptions options) {
    server_ = std::make_unique<ControlServer>(
        socket_, [this](std::string_view) -> std::shared_ptr<Broker> { return broker_; }, options);
    ASSERT_OK(server_->Start());
  }

  // A ControlSubscribe on another thread, counting into seen_[i]; returns
  // once it is subscribed. Its result is subscribers_[i].
  void Subscriber(std::size_t i, std::uint32_t count) {
    auto ready = std::make_shared<std::promise<void>>();
    std::atomic<int>& seen = seen_[i];
    subscribers_.push_back(std::async(std::launch::async, [this, count, &seen, ready] {
      return ControlSubscribe(
          socket_, "default", "t", count,
          [&seen](const Message&) {
            ++seen;
            return true;
          },
          [ready] { ready->set_value(); });
    }));
    ASSERT_EQ(ready->get_future().wait_for(10s), std::future_status::ready);
  }

  TempDir dir_;
  std::filesystem::path socket_ = dir_.path() / "ctl.sock";
  std::shared_ptr<Broker> broker_ = MakeMemBroker({});
  std::array<std::atomic<int>, 3> seen_{};
  // Before server_: a failed test stops the server first, which ends the
  // subscriptions these futures wait for.
  std::vector<std::future<Status>> subscribers_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlLimitsTest, ConnectionsPastTheCapAreRefusedWithAnError) {
  StartServer({.max_connections = 3});
  Subscriber(0, 1);  // leaves after one message
  Subscriber(1, 0);
  Subscriber(2, 0);
  auto& subscribers = subscribers_;
  auto& seen = seen_;

  Status refused = ControlPublish(socket_, "default", Msg("t", "one too many"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(refused.error().message(),
            "this ferry is serving 3 control connections, its limit "
            "([host].max_control_connections); try again later");

  // The three that were in keep working.
  ASSERT_OK(broker_->Publish(Msg("t", "to all"), Clock::now() + 5s));
  ASSERT_EQ(subscribers[0].wait_for(10s), std::future_status::ready);
  EXPECT_OK(subscribers[0].get());
  for (int i = 0; i < 200 && (seen[1] < 1 || seen[2] < 1); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen[0], 1);
  EXPECT_EQ(seen[1], 1);
  EXPECT_EQ(seen[2], 1);

  // The slot the first one left is free again, once its thread has ended.
  Status later = ControlPublish(socket_, "default", Msg("t", "now there is room"));
  for (int i = 0; i < 200 && !later.ok(); ++i) {
    std::this_thread::sleep_for(50ms);
    later = ControlPublish(socket_, "default", Msg("t", "now there is room"));
  }
  EXPECT_OK(later);

  server_->Stop();
  for (std::size_t i = 1; i < subscribers.size(); ++i) {
    ASSERT_EQ(subscribers[i].wait_for(10s), std::future_status::ready);
    EXPECT_EQ(subscribers[i].get().error().code(), ErrorCode::kConnection);
  }
}

// Through a whole Host configured by ferry.toml: a flood of clients that
// connect and say nothing does not grow the process by a thread each.
TEST(ControlHostLimits, AFloodOfConnectionsKeepsTheThreadCountBounded) {
  TempDir dir;
  const auto socket = dir.path() / "ctl.sock";
  constexpr int kCap = 8;
  const auto config = dir.Write("ferry.toml", "[host]\ncontrol_socket = \"" + socket.string() +
                                                  "\"\nmax_control_connections = " +
                                                  std::to_string(kCap) + "\n");
  HostOptions options;
  options.config_file = config;
  auto host = Host::Create(options);
  ASSERT_OK(host);
  ASSERT_OK((*host)->Start());

  const int before = ThreadCount();
  ASSERT_GT(before, 0);
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawConnection>(socket));
    ASSERT_TRUE(clients.back()->connected()) << "connection " << i;
  }
  // The last one is answered only after every earlier one was accepted.
  Status last = clients.back()->ReadOutcome();
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(last.error().message(), HasSubstr("max_control_connections"));
  // One thread per served connection and no more (slack for a thread the
  // host may start on its own).
  EXPECT_LE(ThreadCount(), before + kCap + 2);

  // The command line prints the refusal as its one line: the first kCap
  // connections still hold every slot, waiting to send their request.
  const std::string cmd =
      std::string(FERRY_BINARY) + " publish t x --control " + socket.string() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_EQ(out,
            "ferry: this ferry is serving 8 control connections, its limit "
            "([host].max_control_connections); try again later\n");

  // Those that were let in still work.
  for (int i = 0; i < kCap; ++i) {
    clients[i]->Send(PublishFrame("t"));
    EXPECT_OK(clients[i]->ReadOutcome()) << "connection " << i;
  }
  for (int i = kCap; i < kClients - 1; ++i)
    EXPECT_EQ(clients[i]->ReadOutcome().error().code(), ErrorCode::kResourceExhausted) << i;
  (*host)->Stop(1s);
}

// Bad input on one connection ends that connection and nothing else: a
// subscriber and a client that connected earlier go on.
TEST_F(ControlLimitsTest, AMalformedOrOversizedFrameClosesOnlyItsConnection) {
  StartServer({});
  Subscriber(0, 0);
  RawConnection patient(socket_);  // connected before the bad ones, sends later
  ASSERT_TRUE(patient.connected());

  RawConnection malformed(socket_);
  control::Writer garbage;
  garbage.U8(control::kVersion);
  garbage.U8(control::kPublish);
  garbage.U32(1000);  // a broker name longer than the frame
  malformed.Send(garbage.Frame());
  Status bad = malformed.ReadOutcome();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(malformed.ClosedByServer());

  RawConnection oversized(socket_);
  control::Writer huge;
  huge.U32(control::kMaxFrame + 1);
  oversized.Send(huge.Frame().substr(4));  // only the length: the server must not wait for 64 MiB
  Status big = oversized.ReadOutcome();
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(oversized.ClosedByServer());

  patient.Send(PublishFrame("t"));
  EXPECT_OK(patient.ReadOutcome());
  for (int i = 0; i < 200 && seen_[0] < 1; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen_[0], 1);

  server_->Stop();
  ASSERT_EQ(subscribers_[0].wait_for(10s), std::future_status::ready);
  EXPECT_EQ(subscribers_[0].get().error().code(), ErrorCode::kConnection);
}

}  // namespace
}  // namespace ferry
