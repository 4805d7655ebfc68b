// Outgoing HTTP (wasi:http) from a component built with componentize-js's
// defaults (examples/js/fetcher.js), against a server on loopback: what
// allow_http grants goes out, anything else fails in the guest before a
// connection is made, and a request never outlives the guest call.
// componentize-js's fetch (StarlingMonkey) rejects every failed request
// with the same TypeError and drops the wasi:http error code, so the code
// itself (HTTP-request-denied, a connect error) is checked by the engine's
// unit tests (engine/src/http.rs).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/host_fixture.h"
#include "support/http_server.h"
#include "support/ports.h"

namespace ferry::testing {
namespace {

using ::testing::IsEmpty;
using ::testing::StartsWith;

// The fetcher on fetch.in, answering on fetcher.out; `extra` is added to
// its [[component]] table.
std::string Config(const std::string& extra, const std::string& limits = "") {
  return limits + "[[component]]\nname = \"fetcher\"\npath = \"$COMPONENTS/fetcher_js.wasm\"\n"
                  "subscribe = [\"fetch.in\"]\nallow_publish = [\"fetcher.out\"]\n" +
         extra;
}

std::string Url(std::uint16_t port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

// What the fetcher answered to one URL.
std::string Fetch(RunningHost& h, Inbox& out, const std::string& url) {
  const std::size_t before = out.Snapshot().size();
  EXPECT_OK(h.Publish("fetch.in", url));
  auto got = out.WaitFor(before + 1);
  if (got.size() <= before) return "<no answer>";
  return Text(got[before]);
}

TEST(OutgoingHttp, AGrantedRequestGetsTheResponse) {
  HttpServer server;
  ASSERT_NE(server.port(), 0);
  RunningHost h(Config("allow_http = [\"127.0.0.1:*\"]\n"));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("fetcher.out");
  EXPECT_EQ(Fetch(h, out, Url(server.port(), "/hello")), "200 you asked for /hello");
  EXPECT_EQ(Fetch(h, out, Url(server.port(), "/again?x=1")), "200 you asked for /again?x=1");
  EXPECT_EQ(server.Paths(), (std::vector<std::string>{"/hello", "/again?x=1"}));
}

TEST(OutgoingHttp, WithoutAGrantTheGuestGetsHttpRequestDeniedAndNothingIsSent) {
  HttpServer server;
  ASSERT_NE(server.port(), 0);
  RunningHost h(Config(""));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("fetcher.out");
  const std::string answer = Fetch(h, out, Url(server.port(), "/secret"));
  EXPECT_EQ(answer, "error: TypeError: NetworkError when attempting to fetch resource");
  EXPECT_THAT(server.Paths(), IsEmpty());
  // The call itself succeeded: the denial is the guest's to handle.
  EXPECT_EQ(h.SettledStats("fetcher", 1).handled, 1u);
}

TEST(OutgoingHttp, AGrantForAnotherHostOrPortDoesNotCover) {
  HttpServer server;
  ASSERT_NE(server.port(), 0);
  const std::string other_port = std::to_string(server.port() == 65535 ? 1 : server.port() + 1);
  RunningHost h(Config("allow_http = [\"127.0.0.1:" + other_port + "\", \"localhost:*\", \"*.example.com:*\"]\n"));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("fetcher.out");
  EXPECT_THAT(Fetch(h, out, Url(server.port(), "/x")), StartsWith("error: "));
  EXPECT_THAT(server.Paths(), IsEmpty());
}

TEST(OutgoingHttp, AClosedPortIsAConnectionErrorAndTheHostCarriesOn) {
  HttpServer server;
  ASSERT_NE(server.port(), 0);
  const std::uint16_t closed = FreePort();
  ASSERT_NE(closed, 0);
  RunningHost h(Config("allow_http = [\"127.0.0.1:*\"]\n"));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("fetcher.out");
  const std::string answer = Fetch(h, out, Url(closed, "/nobody"));
  EXPECT_THAT(answer, StartsWith("error: "));
  EXPECT_EQ(Fetch(h, out, Url(server.port(), "/after")), "200 you asked for /after");
}

TEST(OutgoingHttp, ARequestNeverOutlivesTheCall) {
  // A server that takes connections (the kernel's backlog) but never answers.
  const int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t port = ntohs(addr.sin_port);

  HttpServer server;
  ASSERT_NE(server.port(), 0);
  // Without the bound the request would wait out wasi:http's own 600 s.
  RunningHost h(Config("allow_http = [\"127.0.0.1:*\"]\nmax_attempts = 1\n",
                       "[limits]\nhandler_timeout_ms = 2000\n"));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("fetcher.out");
  ASSERT_OK(h.Publish("fetch.in", Url(port, "/never")));
  // The call ends at its deadline: either the guest saw the timeout (and
  // answered) or the call was interrupted; either way it is settled.
  const ComponentStats stats = h.WaitForStats(
      "fetcher", [](const ComponentStats& s) { return s.handled + s.given_up >= 1; });
  EXPECT_EQ(stats.handled + stats.given_up, 1u);
  // A guest that saw the timeout answered; its answer may still be on its
  // way to the inbox, and must not be taken for the answer to "/after".
  if (stats.handled == 1) ASSERT_EQ(out.WaitFor(1).size(), 1u);
  for (const Message& m : out.Snapshot()) EXPECT_THAT(Text(m), StartsWith("error: "));
  EXPECT_EQ(Fetch(h, out, Url(server.port(), "/after")), "200 you asked for /after");
  ::close(silent);
}

TEST(OutgoingHttp, RequestsAtOnceAreBoundedByTheResourceTable) {
  HttpServer server;
  ASSERT_NE(server.port(), 0);
  // Room for 4096 WASI and wasi:http resources beside messaging's own
  // (2 × 16 + 4 + 4 here): twenty requests at once fit, two thousand (each
  // holds a request, its headers, a body and a future) do not.
  RunningHost h(Config("allow_http = [\"127.0.0.1:*\"]\nmax_attempts = 1\ndead_letter = \"dead.letters\"\n",
                       "[limits]\nmax_guest_messages = 16\nmax_guest_clients = 4\n"
                       "max_guest_request_options = 4\n"));
  ASSERT_OK(h.start_status());
  Inbox& out = h.Listen("fetcher.out");
  Inbox& dead = h.Listen("dead.letters");
  EXPECT_EQ(Fetch(h, out, "many:20:" + Url(server.port(), "/some")), "many: 20/20");
  ASSERT_OK(h.Publish("fetch.in", "many:2000:" + Url(server.port(), "/too-many")));
  // The guest that holds too many traps (reason memory, as for the other
  // host-side caps); its instance goes, the host stays.
  const ComponentStats stats = h.WaitForStats("fetcher", [](const ComponentStats& s) { return s.given_up >= 1; });
  EXPECT_EQ(stats.given_up, 1u);
  auto letters = dead.WaitFor(1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].metadata.Get("ferry-dead-letter-reason"), "memory");
  EXPECT_THAT(std::string(letters[0].metadata.Get("ferry-last-error").value_or("")),
              ::testing::HasSubstr("more resources than its limits allow"));
  EXPECT_EQ(stats.handled, 1u);
  EXPECT_EQ(Fetch(h, out, Url(server.port(), "/after")), "200 you asked for /after");
  for (const Message& m : out.Snapshot()) EXPECT_NE(Text(m), "many: 2000/2000");
}

}  // namespace
}  // namespace ferry::testing
