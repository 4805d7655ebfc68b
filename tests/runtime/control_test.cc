// The control socket end to end: ControlServer over real embedded brokers,
// reached through the public client functions of ferry/control.h.
#include "ferry/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "brokers/mem/mem_broker.h"
#include "runtime/control_protocol.h"
#include "runtime/control_server.h"
#include "support/host_fixture.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ferry::testing::TempDir;

Message Msg(const std::string& topic, const std::string& data) {
  Message m;
  m.topic = topic;
  m.data = Bytes::FromString(data);
  return m;
}

// Messages a direct broker subscription saw, with waiting.
class Seen {
 public:
  void Add(const Message& m) {
    std::lock_guard lock(mutex_);
    messages_.push_back(m);
    cv_.notify_all();
  }
  std::vector<Message> WaitFor(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 10s, [&] { return messages_.size() >= n; });
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
};

// Binds a socket at `path` and closes it without removing the file: what a
// ferry that was killed leaves behind.
void LeaveStaleSocket(const std::filesystem::path& path) {
  auto addr = control::SocketAddress(path);
  ASSERT_TRUE(addr.ok());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)), 0);
  ::close(fd);
}

// A raw connection, for speaking garbage to the server.
int RawConnect(const std::filesystem::path& path) {
  auto addr = control::SocketAddress(path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The status of the one reply frame the server sends back to `bytes`.
Status ReplyTo(const std::filesystem::path& path, const std::string& bytes) {
  const int fd = RawConnect(path);
  if (fd < 0) return Error::Connection("cannot connect");
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  auto frame = control::ReadFrame(fd);
  ::close(fd);
  if (!frame.ok()) return frame.error();
  control::Reader r(*frame);
  Status s = r.Outcome();
  return s.ok() ? Error::Internal("garbage was accepted") : s;
}

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(default_->Connect());
    ASSERT_OK(other_->Connect());
    server_ = MakeServer();
    ASSERT_OK(server_->Start());
  }

  std::unique_ptr<ControlServer> MakeServer(ControlServerOptions options = {}) {
    return std::make_unique<ControlServer>(
        socket_,
        [this](std::string_view name) -> std::shared_ptr<Broker> {
          if (name == "default") return default_;
          if (name == "other") return other_;
          return nullptr;
        },
        options);
  }

  std::unique_ptr<Subscription> Watch(Broker& broker, const std::string& pattern, Seen& seen) {
    auto sub = broker.Subscribe({.pattern = pattern, .manual_ack = false},
                                [&seen](Delivery d) { seen.Add(d.message); });
    EXPECT_OK(sub);
    return sub.ok() ? std::move(sub).value() : nullptr;
  }

  // Replies "<answer>:<request data>" to every request on `topic`.
  std::unique_ptr<Subscription> Responder(const std::string& topic, const std::string& answer) {
    auto respond = [this, answer](Delivery d) {
      Message reply = Msg(d.message.reply_to, answer + ":" + std::string(d.message.data.view()));
      (void)default_->Publish(reply, Clock::now() + 5s);
    };
    auto sub = default_->Subscribe({.pattern = topic, .manual_ack = false}, respond);
    EXPECT_OK(sub);
    return sub.ok() ? std::move(sub).value() : nullptr;
  }

  TempDir dir_;
  std::filesystem::path socket_ = dir_.path() / "ctl.sock";
  std::shared_ptr<Broker> default_ = MakeMemBroker({});
  std::shared_ptr<Broker> other_ = MakeMemBroker({});
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlTest, PublishArrivesIntact) {
  Seen seen;
  auto sub = Watch(*default_, "orders.*", seen);
  Message m = Msg("orders.new", std::string("{\"id\":1}\0!", 10));
  m.content_type = "application/json";
  m.metadata.Set("trace", "abc");
  m.metadata.Set("empty", "");
  ASSERT_OK(ControlPublish(socket_, "default", m));

  auto got = seen.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "orders.new");
  EXPECT_EQ(got[0].data, m.data);
  EXPECT_EQ(got[0].content_type, "application/json");
  EXPECT_EQ(got[0].metadata, m.metadata);
}

TEST_F(ControlTest, PublishPicksTheNamedBroker) {
  Seen on_default, on_other;
  auto a = Watch(*default_, "t", on_default);
  auto b = Watch(*other_, "t", on_other);
  ASSERT_OK(ControlPublish(socket_, "other", Msg("t", "x")));
  EXPECT_EQ(on_other.WaitFor(1).size(), 1u);
  EXPECT_TRUE(on_default.WaitFor(0).empty());

  Status unknown = ControlPublish(socket_, "kafka", Msg("t", "x"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().message(), "no broker named \"kafka\" in this ferry");
}

TEST_F(ControlTest, BrokerErrorsComeBackWithTheirCode) {
  Status bad = ControlPublish(socket_, "default", Msg("a..b", "x"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ControlTest, RequestGetsReplies) {
  auto one = Responder("svc", "one");
  auto replies = ControlRequest(socket_, "default", Msg("svc", "hi"), 5s, 1);
  ASSERT_OK(replies);
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ((*replies)[0].data.view(), "one:hi");

  auto two = Responder("svc", "two");
  auto both = ControlRequest(socket_, "default", Msg("svc", "hi"), 5s, 2);
  ASSERT_OK(both);
  EXPECT_EQ(both->size(), 2u);
}

TEST_F(ControlTest, RequestWithoutRespondersTimesOut) {
  auto replies = ControlRequest(socket_, "default", Msg("nobody.home", "hi"), 50ms, 1);
  ASSERT_FALSE(replies.ok());
  EXPECT_EQ(replies.error().code(), ErrorCode::kTimeout);
}

TEST_F(ControlTest, RequestTimeoutIsCappedByTheServer) {
  server_.reset();
  server_ = MakeServer({.max_wait = 100ms});
  ASSERT_OK(server_->Start());
  const auto start = Clock::now();
  auto replies = ControlRequest(socket_, "default", Msg("nobody.home", "hi"), 1h, 1);
  ASSERT_FALSE(replies.ok());
  EXPECT_EQ(replies.error().code(), ErrorCode::kTimeout);
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST_F(ControlTest, SubscribeStreamsCountMessagesThenEnds) {
  std::promise<void> ready;
  std::vector<Message> got;
  auto done = std::async(std::launch::async, [&] {
    return ControlSubscribe(
        socket_, "default", "events.>", 3,
        [&](const Message& m) {
          got.push_back(m);
          return true;
        },
        [&] { ready.set_value(); });
  });
  ASSERT_EQ(ready.get_future().wait_for(10s), std::future_status::ready);
  for (int i = 0; i < 5; ++i) {
    Message m = Msg("events.a." + std::to_string(i), std::to_string(i));
    m.metadata.Set("n", std::to_string(i));
    ASSERT_OK(default_->Publish(m, Clock::now() + 5s));
  }
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  ASSERT_OK(done.get());
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].topic, "events.a." + std::to_string(i));
    EXPECT_EQ(got[i].metadata.Get("n"), std::to_string(i));
  }
}

TEST_F(ControlTest, SubscribeEndsWhenTheCallbackSaysSo) {
  std::promise<void> ready;
  auto done = std::async(std::launch::async, [&] {
    return ControlSubscribe(
        socket_, "other", "x", 0, [](const Message&) { return false; },
        [&] { ready.set_value(); });
  });
  ASSERT_EQ(ready.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_OK(other_->Publish(Msg("x", "1"), Clock::now() + 5s));
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_OK(done.get());
}

TEST_F(ControlTest, SubscribersSeeTheStreamCloseWhenTheServerStops) {
  std::promise<void> ready;
  auto done = std::async(std::launch::async, [&] {
    return ControlSubscribe(
        socket_, "default", ">", 0, [](const Message&) { return true; },
        [&] { ready.set_value(); });
  });
  ASSERT_EQ(ready.get_future().wait_for(10s), std::future_status::ready);
  server_->Stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  Status s = done.get();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection);
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

TEST_F(ControlTest, BadSubscribePatternIsAnError) {
  Status s = ControlSubscribe(socket_, "default", "a.>.b", 1, [](const Message&) { return true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ControlTest, NobodyListening) {
  const auto path = dir_.path() / "nobody.sock";
  Status s = ControlPublish(path, "default", Msg("t", "x"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kConnection);
  EXPECT_THAT(s.error().message(), StartsWith("no ferry is listening on " + path.string() + " ("));
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);

  LeaveStaleSocket(path);  // a file, but nobody behind it
  EXPECT_EQ(ControlRequest(path, "default", Msg("t", "x"), 1s, 1).error().code(),
            ErrorCode::kConnection);
}

TEST_F(ControlTest, SocketFileIsPrivateAndRemovedOnStop) {
  struct stat st{};
  ASSERT_EQ(::lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  server_->Stop();
  EXPECT_FALSE(std::filesystem::exists(socket_));
  server_->Stop();  // idempotent
}

TEST_F(ControlTest, StaleSocketFileIsReplaced) {
  server_.reset();
  LeaveStaleSocket(socket_);
  ASSERT_TRUE(std::filesystem::exists(socket_));
  server_ = MakeServer();
  ASSERT_OK(server_->Start());
  EXPECT_OK(ControlPublish(socket_, "default", Msg("t", "x")));
}

TEST_F(ControlTest, LiveSocketRefusesASecondServer) {
  auto second = MakeServer();
  Status s = second->Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(s.error().message(),
              StartsWith("control socket " + socket_.string() + " is in use by another ferry"));
  second.reset();
  // The first server keeps its socket.
  EXPECT_OK(ControlPublish(socket_, "default", Msg("t", "x")));
}

TEST_F(ControlTest, AFileThatIsNotASocketIsLeftAlone) {
  const auto path = dir_.Write("precious.txt", "keep me");
  ControlServer server(path, [](std::string_view) -> std::shared_ptr<Broker> { return nullptr; });
  Status s = server.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("is not a socket"));
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "keep me");
}

TEST_F(ControlTest, GarbageGetsAnErrorReply) {
  // A well-formed frame whose body is nonsense.
  control::Writer garbage;
  garbage.U8(control::kVersion);
  garbage.U8(control::kPublish);
  garbage.U32(1000);  // a broker name longer than the frame
  Status s = ReplyTo(socket_, garbage.Frame());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.error().message(), HasSubstr("malformed control frame"));

  control::Writer old_version;
  old_version.U8(0);
  EXPECT_THAT(ReplyTo(socket_, old_version.Frame()).error().message(),
              HasSubstr("control protocol version 0"));

  // A length over the limit is refused before anything is read.
  control::Writer huge;
  huge.U32(control::kMaxFrame + 1);
  EXPECT_EQ(ReplyTo(socket_, huge.Frame().substr(4)).error().code(),
            ErrorCode::kResourceExhausted);

  // A frame cut short: the server just hangs up.
  const int fd = RawConnect(socket_);
  ASSERT_GE(fd, 0);
  control::Writer header;
  header.U32(100);
  const std::string part = header.Frame().substr(4) + "short";
  ASSERT_EQ(::send(fd, part.data(), part.size(), MSG_NOSIGNAL), static_cast<ssize_t>(part.size()));
  ::shutdown(fd, SHUT_WR);
  EXPECT_FALSE(control::ReadFrame(fd).ok());
  ::close(fd);

  // And the server still serves.
  EXPECT_OK(ControlPublish(socket_, "default", Msg("t", "x")));
}

TEST_F(ControlTest, ASilentClientIsDisconnected) {
  server_.reset();
  server_ = MakeServer({.read_timeout = 100ms});
  ASSERT_OK(server_->Start());
  const int fd = RawConnect(socket_);
  ASSERT_GE(fd, 0);
  timeval limit{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0);  // closed by the server, not our timeout
  ::close(fd);
}

TEST_F(ControlTest, OversizedMessagesAreRefusedByTheClient) {
  Message m = Msg("t", std::string(control::kMaxFrame + 1, 'x'));
  Status s = ControlPublish(socket_, "default", m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kResourceExhausted);
}

TEST_F(ControlTest, ManyShortConnections) {
  Seen seen;
  auto sub = Watch(*default_, "many", seen);
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) EXPECT_OK(ControlPublish(socket_, "default", Msg("many", "x")));
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(seen.WaitFor(100).size(), 100u);
}

// A publish stream: many messages over one connection, each answered, in
// order; broker errors come back per message and the stream goes on.
TEST_F(ControlTest, APublisherSendsManyMessagesOverOneConnection) {
  Seen seen;
  auto sub = Watch(*default_, "stream.*", seen);
  auto publisher = ControlPublisher::Open(socket_, "default");
  ASSERT_OK(publisher);
  constexpr int kMessages = 500;
  for (int i = 0; i < kMessages; ++i) {
    Message m = Msg("stream.n", "m" + std::to_string(i));
    m.metadata.Set("i", std::to_string(i));
    ASSERT_OK((*publisher)->Publish(m));
    if (i == 100) {
      Status bad = (*publisher)->Publish(Msg("stream..bad", "x"));
      ASSERT_FALSE(bad.ok());
      EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  auto got = seen.WaitFor(kMessages);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(got[i].data.view(), "m" + std::to_string(i));
    EXPECT_EQ(got[i].metadata.Get("i"), std::to_string(i));
  }
}

TEST_F(ControlTest, APublisherForAnUnknownBrokerIsRefusedAtOpen) {
  auto publisher = ControlPublisher::Open(socket_, "kafka");
  ASSERT_FALSE(publisher.ok());
  EXPECT_EQ(publisher.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(publisher.error().message(), "no broker named \"kafka\" in this ferry");
}

TEST_F(ControlTest, APublisherFailsOnceTheServerStopsAndAfterwards) {
  auto publisher = ControlPublisher::Open(socket_, "default");
  ASSERT_OK(publisher);
  ASSERT_OK((*publisher)->Publish(Msg("t", "before")));
  server_->Stop();
  Status after = (*publisher)->Publish(Msg("t", "after"));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code(), ErrorCode::kConnection);
  EXPECT_EQ((*publisher)->Publish(Msg("t", "again")).error().code(), ErrorCode::kConnection);
}

TEST_F(ControlTest, AStoppedPublisherIsCancelled) {
  std::stop_source stop;
  auto publisher = ControlPublisher::Open(socket_, "default", stop.get_token());
  ASSERT_OK(publisher);
  ASSERT_OK((*publisher)->Publish(Msg("t", "x")));
  stop.request_stop();
  EXPECT_EQ((*publisher)->Publish(Msg("t", "y")).error().code(), ErrorCode::kCancelled);
}

TEST_F(ControlTest, AMalformedStreamFrameGetsAnErrorAndTheConnectionEnds) {
  const int fd = RawConnect(socket_);
  ASSERT_GE(fd, 0);
  control::Request open;
  open.op = control::kPublishStream;
  ASSERT_OK(control::WriteFrame(fd, control::EncodeRequest(open)));
  auto ok = control::ReadFrame(fd);
  ASSERT_OK(ok);
  control::Reader first(*ok);
  EXPECT_OK(first.Outcome());
  control::Writer garbage;
  garbage.U32(1000);  // a topic longer than the frame
  ASSERT_OK(control::WriteFrame(fd, garbage.Frame()));
  auto reply = control::ReadFrame(fd);
  ASSERT_OK(reply);
  control::Reader r(*reply);
  Status refused = r.Outcome();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(control::ReadFrame(fd).ok()) << "the server hung up";
  ::close(fd);
}

}  // namespace
}  // namespace ferry
