// Embedding Ferry in a C++ program: a configuration built in code, a broker
// of the program's own (inproc_broker.h), a component loaded from bytes, and
// messages published and received by the program itself.
//
//   embed COMPONENT.wasm
//
// COMPONENT.wasm is Ferry's examples/transformer (any component that
// upper-cases what arrives on `demo.in` and sends it to `transform.out` will
// do). Prints what came back and exits 0, or says why not and exits 1.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>

#include "ferry/config.h"
#include "ferry/host.h"
#include "inproc_broker.h"

namespace {

int Fail(const std::string& what, const ferry::Error& error) {
  std::fprintf(stderr, "embed: %s: %s\n", what.c_str(), error.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: embed COMPONENT.wasm\n");
    return 2;
  }
  // The component's bytes could come from anywhere: a database, the network.
  std::ifstream file(argv[1], std::ios::binary);
  auto bytes = std::make_shared<const std::vector<std::uint8_t>>(
      std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  if (!file || bytes->empty()) {
    std::fprintf(stderr, "embed: cannot read %s\n", argv[1]);
    return 1;
  }

  // Our own broker, under the URL scheme inproc://, for as long as `scheme` lives.
  auto scheme = embed::RegisterInprocBroker();
  if (!scheme.ok()) return Fail("registering inproc://", scheme.error());

  // The configuration, in code: what a ferry.toml would say.
  ferry::config::Config config;
  config.host.log_level = "warn";
  config.brokers.push_back({"default", "inproc://", {}});
  ferry::config::ComponentConfig upper;
  upper.name = "upper";
  upper.bytes = bytes;
  upper.subscriptions = {"demo.in"};
  upper.allow_publish = {"transform.out"};
  upper.workers = 2;
  config.components.push_back(upper);

  ferry::HostOptions options;
  options.config = std::move(config);
  auto host = ferry::Host::Create(options);
  if (!host.ok()) return Fail("configuration", host.error());
  if (auto started = (*host)->Start(); !started.ok()) return Fail("start", started.error());

  // Receive what the component sends, on a thread of the broker's.
  std::mutex mutex;
  std::condition_variable arrived;
  std::optional<ferry::Message> received;
  auto listener = (*host)->Listen("default", "transform.out", [&](const ferry::Message& m) {
    std::lock_guard lock(mutex);
    received = m;
    arrived.notify_all();
  });
  if (!listener.ok()) return Fail("listen", listener.error());

  ferry::Message message;
  message.topic = "demo.in";
  message.data = ferry::Bytes::FromString("hello from the embedding program");
  if (auto published = (*host)->Publish("default", message); !published.ok())
    return Fail("publish", published.error());

  std::unique_lock lock(mutex);
  if (!arrived.wait_for(lock, std::chrono::seconds(30), [&] { return received.has_value(); })) {
    std::fprintf(stderr, "embed: nothing arrived on transform.out within 30 s\n");
    return 1;
  }
  std::printf("received on %s: %.*s\n", received->topic.c_str(),
              static_cast<int>(received->data.size()), reinterpret_cast<const char*>(received->data.data()));
  for (const auto& [key, value] : received->metadata) std::printf("  %s: %s\n", key.c_str(), value.c_str());
  lock.unlock();

  listener->reset();
  (*host)->Stop(std::chrono::seconds(5));
  for (const auto& s : (*host)->Stats())
    std::printf("%s: received %llu, handled %llu\n", s.name.c_str(),
                static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.handled));
  return 0;
}
