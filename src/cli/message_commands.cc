// ferry publish / request / subscribe: talk to a running host through its
// control socket.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "cli/commands.h"
#include "cli/message_output.h"
#include "cli/signal_stop.h"
#include "ferry/control.h"

namespace ferry::cli {
namespace {

struct MessageOptions {
  std::string topic;
  std::string data;  // "-": standard input
  std::string file;
  std::vector<std::string> headers;
  std::string content_type;
  std::string broker = "default";
  std::string control;
};

void AddMessageOptions(CLI::App* cmd, MessageOptions& o) {
  cmd->add_option("topic", o.topic, "Topic to send to")->required();
  cmd->add_option("data", o.data, "The message body ('-': read it from standard input)");
  cmd->add_option("-f,--file", o.file, "Read the message body from this file (any bytes)");
  cmd->add_option("-H,--header", o.headers, "Metadata entry key=value (repeatable)");
  cmd->add_option("-t,--content-type", o.content_type, "Content type of the body");
  cmd->add_option("-b,--broker", o.broker, "Configured broker name");
  cmd->add_option("--control", o.control, "Control socket of the running ferry");
}

// The body from the argument, standard input or a file, byte for byte.
Result<Bytes> ReadBody(const MessageOptions& o) {
  if (o.data.empty() == o.file.empty())
    return Error::InvalidArgument(o.data.empty()
        ? "no message body: give it as an argument, '-' for standard input, or --file PATH"
        : "give the message body once: as an argument or with --file, not both");
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) return Error::InvalidArgument("cannot read --file " + o.file);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Error::InvalidArgument("cannot read --file " + o.file);
    return Bytes(std::move(bytes));
  }
  if (o.data == "-") {
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return Bytes(std::move(bytes));
  }
  return Bytes::FromString(o.data);
}

Result<Message> BuildMessage(const MessageOptions& o) {
  Message m;
  m.topic = o.topic;
  auto body = ReadBody(o);
  if (!body.ok()) return body.error();
  m.data = std::move(body).value();
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

struct OutputOptions {
  bool raw = false;
  bool json = false;
  OutputFormat format() const {
    return raw ? OutputFormat::kRaw : json ? OutputFormat::kJson : OutputFormat::kText;
  }
};

void AddOutputOptions(CLI::App* cmd, OutputOptions& o) {
  auto* raw = cmd->add_flag("--raw", o.raw, "Write each body exactly as it is, nothing else");
  auto* json = cmd->add_flag("--json", o.json,
                             "One JSON object per message: topic, content_type, metadata, and data "
                             "(UTF-8) or data_base64");
  raw->excludes(json);
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
  auto count = std::make_shared<std::uint32_t>(1);
  auto rate = std::make_shared<double>(0);
  CLI::App* cmd = app.add_subcommand("publish", "Publish a message through a running ferry");
  AddMessageOptions(cmd, *o);
  cmd->add_option("--count", *count, "Publish the message this many times")->check(CLI::Range(1u, 1u << 31));
  cmd->add_option("--rate", *rate, "Messages per second with --count (0: as fast as the host takes them)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o, count, rate, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) return void(exit_code = kExitUsage);
    auto m = BuildMessage(*o);
    if (!m.ok()) return void(exit_code = Fail(m.error()));
    const SignalStop signals = SignalStop::Watch();
    // One message: one call. Several: one connection for all of them.
    std::unique_ptr<ControlPublisher> stream;
    if (*count > 1) {
      auto opened = ControlPublisher::Open(SocketOf(o->control), o->broker, signals.token());
      if (!opened.ok()) return void(exit_code = Fail(opened.error(), signals));
      stream = std::move(opened).value();
    }
    const auto start = std::chrono::steady_clock::now();
    const auto gap = *rate > 0 ? std::chrono::duration<double>(1.0 / *rate) : std::chrono::duration<double>(0);
    for (std::uint32_t i = 0; i < *count; ++i) {
      if (gap.count() > 0)
        std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap * i));
      Status s = stream ? stream->Publish(*m) : ControlPublish(SocketOf(o->control), o->broker, *m, signals.token());
      if (!s.ok()) {
        Error e = s.error();
        if (*count > 1) e = e.WithContext("message " + std::to_string(i + 1) + " of " + std::to_string(*count));
        return void(exit_code = Fail(e, signals));
      }
    }
    if (*count > 1) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "published %u messages in %.2f s (%.0f msg/s)\n", *count, secs,
                   secs > 0 ? *count / secs : 0.0);
    }
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
  auto output = std::make_shared<OutputOptions>();
  AddOutputOptions(cmd, *output);
  cmd->callback([o, timeout_ms, replies, output, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) return void(exit_code = kExitUsage);
    auto m = BuildMessage(*o);
    if (!m.ok()) return void(exit_code = Fail(m.error()));
    const SignalStop signals = SignalStop::Watch();
    auto got = ControlRequest(SocketOf(o->control), o->broker, *m,
                              std::chrono::milliseconds(*timeout_ms), *replies, signals.token());
    if (!got.ok()) return void(exit_code = Fail(got.error(), signals));
    for (const auto& r : *got) WriteMessage(stdout, r, output->format());
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
  auto output = std::make_shared<OutputOptions>();
  AddOutputOptions(cmd, *output);
  cmd->callback([o, output, &global, &exit_code] {
    if (!ApplyLogLevel(global, "warn")) return void(exit_code = kExitUsage);
    const SignalStop signals = SignalStop::Watch();
    const OutputFormat format = output->format();
    // Messages print on this thread, between reads; a stop ends the next
    // read, so a message is printed whole or not at all.
    Status s = ControlSubscribe(
        SocketOf(o->control), o->broker, o->pattern, o->count,
        [format](const Message& m) {
          WriteMessage(stdout, m, format);
          return true;
        },
        {}, signals.token());
    if (!s.ok()) exit_code = Fail(s.error(), signals);
  });
}

}  // namespace ferry::cli
