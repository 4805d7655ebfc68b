// ferry publish / request / subscribe: talk to a running host through its
// control socket.
#include <cstdio>

#include "cli/commands.h"
#include "cli/signal_stop.h"
#include "ferry/control.h"

namespace ferry::cli {
namespace {

struct MessageOptions {
  std::string topic;
  std::string data;
  std::vector<std::string> headers;
  std::string content_type;
  std::string broker = "default";
  std::string control;
};

void AddMessageOptions(CLI::App* cmd, MessageOptions& o) {
  cmd->add_option("topic", o.topic, "Topic to send to")->required();
  cmd->add_option("data", o.data, "The message body")->required();
  cmd->add_option("-H,--header", o.headers, "Metadata entry key=value (repeatable)");
  cmd->add_option("-t,--content-type", o.content_type, "Content type of the body");
  cmd->add_option("-b,--broker", o.broker, "Configured broker name");
  cmd->add_option("--control", o.control, "Control socket of the running ferry");
}

Result<Message> BuildMessage(const MessageOptions& o) {
  Message m;
  m.topic = o.topic;
  m.data = Bytes::FromString(o.data);
  if (!o.content_type.empty()) m.content_type = o.content_type;
  for (const auto& h : o.headers) {
    const auto eq = h.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error::InvalidArgument("--header expects key=value, got '" + h + "'");
    m.metadata.Set(h.substr(0, eq), h.substr(eq + 1));
  }
  return m;
}

std::string SocketOf(const std::string& control) {
  return control.empty() ? DefaultControlSocket() : control;
}

// "topic [content-type] body" then "  key: value" per metadata entry.
void PrintMessage(const Message& m) {
  std::printf("%s", m.topic.c_str());
  if (m.content_type) std::printf(" [%s]", m.content_type->c_str());
  std::printf(" %.*s\n", static_cast<int>(m.data.size()), reinterpret_cast<const char*>(m.data.data()));
  for (const auto& [k, v] : m.metadata) std::printf("  %s: %s\n", k.c_str(), v.c_str());
  std::fflush(stdout);
}

int Fail(const Error& e) {
  PrintError(e.message());
  return e.code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

// A call a signal stopped ends quietly with 128 + the signal, like any
// program a user interrupts; every other error is one line and 1 or 2.
int Fail(const Error& e, const SignalStop& signals) {
  if (e.code() == ErrorCode::kCancelled && signals.ExitCode() != 0) return signals.ExitCode();
  return Fail(e);
}

}  // namespace

void AddPublishCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<MessageOptions>();
  CLI::App* cmd = app.add_subcommand("publish", "Publish one message through a running ferry");
  AddMessageOptions(cmd, *o);
  cmd->callback([o, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) return void(exit_code = kExitUsage);
    auto m = BuildMessage(*o);
    if (!m.ok()) return void(exit_code = Fail(m.error()));
    const SignalStop signals = SignalStop::Watch();
    Status s = ControlPublish(SocketOf(o->control), o->broker, *m, signals.token());
    if (!s.ok()) exit_code = Fail(s.error(), signals);
  });
}

void AddRequestCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<MessageOptions>();
  auto timeout_ms = std::make_shared<std::uint32_t>(5000);
  auto replies = std::make_shared<std::uint32_t>(1);
  CLI::App* cmd = app.add_subcommand(
      "request", "Send a request through a running ferry and print the replies");
  AddMessageOptions(cmd, *o);
  cmd->add_option("--timeout", *timeout_ms, "Milliseconds to wait for replies");
  cmd->add_option("-n,--replies", *replies, "Return as soon as this many replies arrived");
  cmd->callback([o, timeout_ms, replies, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) return void(exit_code = kExitUsage);
    auto m = BuildMessage(*o);
    if (!m.ok()) return void(exit_code = Fail(m.error()));
    const SignalStop signals = SignalStop::Watch();
    auto got = ControlRequest(SocketOf(o->control), o->broker, *m,
                              std::chrono::milliseconds(*timeout_ms), *replies, signals.token());
    if (!got.ok()) return void(exit_code = Fail(got.error(), signals));
    for (const auto& r : *got) PrintMessage(r);
  });
}

void AddSubscribeCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  struct Options {
    std::string pattern;
    std::uint32_t count = 0;
    std::string broker = "default";
    std::string control;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("subscribe", "Print messages on a topic pattern of a running ferry");
  cmd->add_option("pattern", o->pattern, "Topic pattern ('*' one token, '>' the rest)")->required();
  cmd->add_option("-n,--count", o->count, "Exit after this many messages (0: never)");
  cmd->add_option("-b,--broker", o->broker, "Configured broker name");
  cmd->add_option("--control", o->control, "Control socket of the running ferry");
  cmd->callback([o, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) return void(exit_code = kExitUsage);
    const SignalStop signals = SignalStop::Watch();
    // Messages print on this thread, between reads; a stop ends the next
    // read, so a message is printed whole or not at all.
    Status s = ControlSubscribe(
        SocketOf(o->control), o->broker, o->pattern, o->count,
        [](const Message& m) {
          PrintMessage(m);
          return true;
        },
        {}, signals.token());
    if (!s.ok()) exit_code = Fail(s.error(), signals);
  });
}

}  // namespace ferry::cli
