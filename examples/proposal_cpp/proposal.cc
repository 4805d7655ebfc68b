// proposal_cpp: the guest of the proposal's examples.md in C++, doing what
// examples/proposal/proposal.c does: subscribe to a, b and c; on a, stop
// listening to a and abandon; on b, pull from d for 100 ms and complete; on c,
// send to d and complete. Steps are written to "proposal.log".
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include "messaging.h"
}

namespace {

using Message = wasi_messaging_messaging_types_message_t;

messaging_string_t View(std::string_view s) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(s.data())), s.size()};
}

std::string_view View(const messaging_string_t& s) {
  return {reinterpret_cast<const char*>(s.ptr), s.len};
}

// An error the host handed over; dropped when it goes out of scope, after
// its text has been read through error.trace().
class HostError {
 public:
  HostError() = default;
  HostError(const HostError&) = delete;
  HostError& operator=(const HostError&) = delete;
  ~HostError() {
    if (handle_.__handle != 0) wasi_messaging_messaging_types_error_drop_own(handle_);
  }
  wasi_messaging_messaging_types_own_error_t* out() { return &handle_; }
  static std::string Trace() {
    messaging_string_t t;
    wasi_messaging_messaging_types_static_error_trace(&t);
    std::string text(View(t));
    messaging_string_free(&t);
    return text;
  }

 private:
  wasi_messaging_messaging_types_own_error_t handle_{0};
};

// A client lives for one call: every function that takes one consumes it.
std::optional<wasi_messaging_messaging_types_own_client_t> Connect() {
  auto name = View("default");
  wasi_messaging_messaging_types_own_client_t client;
  HostError e;
  if (!wasi_messaging_messaging_types_static_client_connect(&name, &client, e.out()))
    return std::nullopt;
  return client;
}

bool Send(std::string_view channel, std::string_view text) {
  auto client = Connect();
  if (!client) return false;
  Message m{{reinterpret_cast<uint8_t*>(const_cast<char*>(text.data())), text.size()},
            WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW,
            {}};
  wasi_messaging_producer_list_message_t list{&m, 1};
  auto ch = View(channel);
  HostError e;
  return wasi_messaging_producer_send(*client, &ch, &list, e.out());
}

void Note(const std::string& text) {
  std::printf("%s\n", text.c_str());
  Send("proposal.log", text);
}

std::string ChannelOf(const Message& m) {
  if (!m.metadata.is_some) return {};
  for (size_t i = 0; i < m.metadata.val.len; ++i) {
    const auto& kv = m.metadata.val.ptr[i];
    if (View(kv.f0) == "channel") return std::string(View(kv.f1));
  }
  return {};
}

bool Complete(Message& m) {
  HostError e;
  if (wasi_messaging_consumer_complete_message(&m, e.out())) return true;
  Note("could not complete: " + HostError::Trace());
  return false;
}

void OnA(Message& m) {
  std::vector<messaging_string_t> keep{View("b"), View("c")};
  wasi_messaging_messaging_types_guest_configuration_t gc{{keep.data(), keep.size()}, {}};
  HostError e;
  if (!wasi_messaging_consumer_update_guest_configuration(&gc, e.out()))
    return Note("a: could not unsubscribe from a: " + HostError::Trace());
  HostError e2;
  if (!wasi_messaging_consumer_abandon_message(&m, e2.out()))
    return Note("a: could not abandon the message: " + HostError::Trace());
  Note("a: unsubscribed from a, abandoned the message");
}

void OnB(Message& m) {
  auto client = Connect();
  if (!client) return;
  auto d = View("d");
  wasi_messaging_consumer_option_list_message_t got;
  HostError e;
  std::string line;
  if (wasi_messaging_consumer_subscribe_try_receive(*client, &d, 100, &got, e.out())) {
    line = "b: pulled " + std::to_string(got.is_some ? got.val.len : 0) + " from d";
    wasi_messaging_consumer_option_list_message_free(&got);
  } else {
    line = "b: pulling from d failed: " + HostError::Trace();
  }
  if (Complete(m)) Note(line);
}

void OnC(Message& m) {
  const bool sent = Send("d", "hello from guest");
  if (Complete(m)) Note(sent ? "c: sent to d" : "c: sending to d failed");
}

}  // namespace

extern "C" bool exports_wasi_messaging_messaging_guest_configure(
    exports_wasi_messaging_messaging_guest_guest_configuration_t* ret,
    exports_wasi_messaging_messaging_guest_own_error_t*) {
  // The host frees what configure returns, so it comes from the C heap.
  static constexpr const char* kChannels[] = {"a", "b", "c"};
  ret->channels.len = 3;
  ret->channels.ptr = static_cast<messaging_string_t*>(std::malloc(3 * sizeof(messaging_string_t)));
  for (size_t i = 0; i < 3; ++i) messaging_string_dup(&ret->channels.ptr[i], kChannels[i]);
  ret->extensions.is_some = false;
  return true;
}

extern "C" bool exports_wasi_messaging_messaging_guest_handler(
    exports_wasi_messaging_messaging_guest_list_message_t* ms,
    exports_wasi_messaging_messaging_guest_own_error_t*) {
  for (size_t i = 0; i < ms->len; ++i) {
    Message& m = ms->ptr[i];
    const std::string channel = ChannelOf(m);
    if (channel == "a") OnA(m);
    else if (channel == "b") OnB(m);
    else if (channel == "c") OnC(m);
  }
  exports_wasi_messaging_messaging_guest_list_message_free(ms);
  return true;
}
