#include "ferry/host.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include <spdlog/spdlog.h>

#include "brokers/registry.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "runtime/component_runner.h"
#include "runtime/control_server.h"
#include "runtime/host_setup.h"
#include "runtime/metrics_server.h"
#include "runtime/span_exporter.h"
#include "wasm/engine.h"
#include "wasm/guest.h"

namespace ferry {
namespace {

// A Listen subscription, shared by its Listener and the host. Whichever
// ends it first (the Listener's destructor, or Host::Stop or a reload that
// replaces its broker, before that broker goes) destroys the subscription;
// the other then finds nothing to do. The lock is held while the
// subscription is destroyed, so the host cannot close a broker under a
// Listener that is still unsubscribing from it.
struct ListenSlot {
  void End() {
    std::lock_guard lock(mutex);
    sub.reset();
  }
  const Broker* broker = nullptr;  // set once, before the slot is shared
  std::mutex mutex;
  std::unique_ptr<Subscription> sub;
};

class SubscriptionListener final : public Listener {
 public:
  explicit SubscriptionListener(std::shared_ptr<ListenSlot> slot) : slot_(std::move(slot)) {}
  ~SubscriptionListener() override { slot_->End(); }

 private:
  std::shared_ptr<ListenSlot> slot_;
};

// Runs one configuration at a time. The brokers and the control socket
// belong to the host, not to a configuration: a reload replaces the engine
// and the component runners, and a broker only when OutlivesReload says so.
//
// Threading: Start, Stop, StopForReload, AdoptRetries and Reload are called
// by one thread at a time (the owner's). Publish, Request, Listen and the
// control socket's threads may run at any time: they find brokers under
// brokers_mutex_ and keep the one they use alive (shared_ptr) for the call.
class HostImpl final : public Host {
 public:
  explicit HostImpl(config::Config config) : config_(std::move(config)) {}
  ~HostImpl() override { Stop(std::chrono::milliseconds(0)); }

  Status Start() override {
    Status status = StartAll();
    if (!status.ok()) Stop(std::chrono::milliseconds(0));
    return status;
  }

  void Stop(std::chrono::milliseconds grace) override { (void)StopForReload(grace, {}); }

  std::vector<HeldRetry> StopForReload(std::chrono::milliseconds grace,
                                       const std::vector<std::string>& hand_over) override {
    if (gateway_) gateway_->Stop();
    gateway_.reset();
    if (control_) control_->Stop();
    control_.reset();
    draining_.store(true);
    metrics_.reset();
    std::vector<HeldRetry> held = StopComponents(grace, hand_over);
    spans_.reset();  // sends what its runners left
    // A stopped host can be started again (a reload that failed goes back).
    CloseBrokers([](const std::string&) { return true; });
    return held;
  }

  void AdoptRetries(std::vector<HeldRetry> retries) override {
    for (auto& r : retries) {
      auto it = std::find_if(runners_.begin(), runners_.end(),
                             [&](const auto& runner) { return runner->name() == r.component; });
      if (it == runners_.end()) {
        spdlog::error("{}: a message on {} held for attempt {} is lost: no such component runs",
                      r.component, r.message.topic, r.attempt);
        continue;
      }
      Delivery d;
      d.message = std::move(r.message);
      d.attempt = r.attempt;
      (*it)->Adopt(std::move(d), r.delay);
    }
  }

  Status Reload(const HostOptions& options, std::chrono::milliseconds grace) override {
    Result<config::Config> next = ConfigFor(options);
    Status ready = next.ok() ? CheckConfig(*next) : Status(next.error());
    if (ready.ok())
      ready = SetLogLevel(options.log_level.empty() ? next->host.log_level : options.log_level);
    if (ready.ok())
      ready = SetLogFormat(options.log_format.empty() ? next->host.log_format : options.log_format);
    if (!ready.ok()) {
      spdlog::error("reload failed, the running configuration stays: {}", ready.error().message());
      return ready;
    }
    config::Config previous = std::move(config_);
    std::vector<HeldRetry> held = StopComponents(grace, NamesOf(*next));
    config_ = std::move(next).value();
    CloseBrokers([&](const std::string& name) { return !OutlivesReload(previous, config_, name); });
    Status started = StartAll();
    if (started.ok()) {
      FinishReload(std::move(held));
      return Status::Ok();
    }
    spdlog::error("reload failed, going back to the previous configuration: {}",
                  started.error().message());
    // The failed configuration's runners hand the embedded broker's
    // subscriptions on once more, and any retry they hold.
    for (auto& h : StopComponents(std::chrono::milliseconds(0), NamesOf(previous)))
      held.push_back(std::move(h));
    CloseBrokers([&](const std::string& name) { return !OutlivesReload(config_, previous, name); });
    config_ = std::move(previous);
    Status back = StartAll();
    if (!back.ok()) {
      spdlog::error("the previous configuration failed to start again: {}", back.error().message());
      if (!held.empty())
        spdlog::error("{} messages held for a retry of Ferry's own are lost with it", held.size());
      Stop(std::chrono::milliseconds(0));
      return back;
    }
    FinishReload(std::move(held));
    return started;
  }

  std::vector<std::string> ComponentNames() const override { return NamesOf(config_); }

  Status Check() override { return CheckConfig(config_); }

  Status Publish(std::string_view name, const Message& message) override {
    auto broker = FindBroker(name);
    if (!broker.ok()) return broker.error();
    return (*broker)->Publish(message, Clock::now() + std::chrono::seconds(30));
  }

  Result<std::vector<Message>> Request(std::string_view name, const Message& message,
                                       std::chrono::milliseconds timeout,
                                       std::uint32_t expected_replies) override {
    auto broker = FindBroker(name);
    if (!broker.ok()) return broker.error();
    RequestOptions options;
    options.timeout = timeout;
    options.expected_replies = expected_replies;
    return (*broker)->Request(message, options);
  }

  using Host::Listen;
  Result<std::unique_ptr<Listener>> Listen(std::string_view name, std::string_view pattern,
                                           std::function<void(const Message&)> on_message,
                                           ListenMode mode) override {
    auto broker = FindBroker(name);
    if (!broker.ok()) return broker.error();
    SubscribeOptions options;
    options.pattern = std::string(pattern);
    options.manual_ack = false;
    auto fn = std::make_shared<const std::function<void(const Message&)>>(std::move(on_message));
    if (mode == ListenMode::kInline)
      options.try_handler = [fn](Delivery& d) {
        (*fn)(d.message);
        return true;
      };
    auto sub = (*broker)->Subscribe(options, [fn](Delivery d) { (*fn)(d.message); });
    if (!sub.ok()) return sub.error();
    auto slot = std::make_shared<ListenSlot>();
    slot->broker = broker->get();
    slot->sub = std::move(sub).value();
    {
      std::lock_guard lock(listens_mutex_);
      std::erase_if(listens_, [](const auto& weak) { return weak.expired(); });
      listens_.push_back(slot);
    }
    return std::unique_ptr<Listener>(new SubscriptionListener(std::move(slot)));
  }

  std::vector<ComponentStats> Stats() const override {
    std::shared_lock runners_lock(runners_mutex_);
    if (runners_.empty()) return last_stats_;
    std::vector<ComponentStats> out;
    for (const auto& runner : runners_) {
      const ComponentSnapshot s = runner->Snapshot();
      ComponentStats st;
      st.name = s.name;
      st.received = s.received;
      st.handled = s.handled;
      st.failed = s.failed;
      st.abandoned = s.abandoned;
      st.given_up = s.given_up;
      st.dead_lettered = s.dead_lettered;
      st.released = s.released;
      st.settle_failed = s.settle_failed;
      st.subscriptions = runner->Subscriptions();
      out.push_back(std::move(st));
    }
    return out;
  }

 private:
  Result<std::shared_ptr<Broker>> FindBroker(std::string_view name) const {
    std::shared_lock lock(brokers_mutex_);
    auto it = brokers_.find(std::string(name));
    if (it == brokers_.end())
      return Error::Connection("no broker named '" + std::string(name) + "' is configured");
    return it->second;
  }

  // Brokers, components, control socket: whatever of them is not running.
  Status StartAll() {
    FERRY_RETURN_IF_ERROR(OpenBrokers());
    FERRY_RETURN_IF_ERROR(OpenSpans());
    FERRY_RETURN_IF_ERROR(StartComponents());
    FERRY_RETURN_IF_ERROR(OpenControl());
    FERRY_RETURN_IF_ERROR(OpenMetrics());
    FERRY_RETURN_IF_ERROR(OpenGateway());
    draining_.store(false);
    return Status::Ok();
  }

  // Opens the metrics listener, or keeps the one open at the same address.
  Status OpenMetrics() {
    if (metrics_ && metrics_->address() == config_.host.metrics) return Status::Ok();
    metrics_.reset();
    if (config_.host.metrics.empty()) return Status::Ok();
    auto server = std::make_unique<MetricsServer>(config_.host.metrics, [this] { return Snapshot(); });
    FERRY_RETURN_IF_ERROR(server->Start());
    metrics_ = std::move(server);
    return Status::Ok();
  }

  // Starts the span exporter, or keeps the one sending to the same
  // endpoint. Runs while no runner does.
  Status OpenSpans() {
    if (spans_ && spans_->endpoint() == config_.host.otlp_endpoint) return Status::Ok();
    std::unique_ptr<SpanExporter> next;
    if (!config_.host.otlp_endpoint.empty()) {
      auto options = SpanExporterOptionsFor(config_.host.otlp_endpoint);
      auto started = options.ok() ? SpanExporter::Start(std::move(options).value()) : options.error();
      if (!started.ok()) return started.error();
      next = std::move(started).value();
    }
    std::unique_lock lock(runners_mutex_);  // Snapshot reads spans_
    spans_.swap(next);
    return Status::Ok();
  }

  // Every figure of the running host, for the metrics page and `ferry
  // status`; called from their threads.
  HostSnapshot Snapshot() const {
    HostSnapshot s;
    std::size_t running = 0;
    {
      std::shared_lock lock(runners_mutex_);
      for (const auto& runner : runners_) s.components.push_back(runner->Snapshot());
      running = runners_.size();
      if (spans_) s.spans = {true, spans_->exported(), spans_->dropped()};
    }
    {
      std::shared_lock lock(brokers_mutex_);
      for (const auto& [name, broker] : brokers_) {
        BrokerSnapshot b;
        b.name = name;
        b.url = broker->DisplayUrl();
        b.state = std::string(ConnectionStateName(broker->State()));
        b.unconfirmed = broker->UnconfirmedPublishes();
        if (auto it = health_.find(name); it != health_.end()) b.reconnects = it->second->reconnects.load();
        s.brokers.push_back(std::move(b));
      }
    }
    s.process = ReadProcess(started_at_);
    DecideReadiness(s, draining_.load(), running, expected_components_.load());
    return s;
  }

  // One connection per configured name, shared by all components; a broker
  // kept from before a reload stays as it is.
  Status OpenBrokers() {
    std::vector<std::pair<std::string, std::shared_ptr<Broker>>> opened;
    for (const auto& b : config_.brokers) {
      if (FindBroker(b.name).ok()) continue;
      auto broker = MakeBroker(b.url, b.options);
      if (!broker.ok()) return broker.error().WithContext("broker '" + b.name + "'");
      std::shared_ptr<Broker> shared = std::move(broker).value();
      auto health = std::make_shared<BrokerHealth>();
      // Counts the connection coming back; runs on the adapter's threads.
      shared->OnStateChange([health](ConnectionState state) {
        if (state != ConnectionState::kConnected) return;
        if (health->was_connected.exchange(true)) health->reconnects.fetch_add(1, std::memory_order_relaxed);
      });
      std::unique_lock lock(brokers_mutex_);
      brokers_.emplace(b.name, shared);
      health_[b.name] = std::move(health);
      opened.emplace_back(b.name, std::move(shared));
    }
    for (auto& [name, broker] : opened) {
      Status connected = broker->Connect();
      if (!connected.ok())
        return connected.error().WithContext("broker '" + name + "' (" + broker->DisplayUrl() + ")");
    }
    return Status::Ok();
  }

  Status StartComponents() {
    expected_components_.store(config_.components.size());
    auto engine = wasm::Engine::Create(EngineOptionsFor(config_));
    if (!engine.ok()) return engine.error();
    engine_ = std::move(engine).value();

    budget_ = config_.limits.max_in_flight > 0
                  ? std::make_shared<InFlightBudget>(config_.limits.max_in_flight)
                  : nullptr;
    std::map<std::string, Broker*> brokers;
    {
      std::shared_lock lock(brokers_mutex_);
      for (const auto& [name, broker] : brokers_) brokers.emplace(name, broker.get());
    }
    for (const auto& component : config_.components) {
      auto compiled = LoadFor(*engine_, component);
      if (!compiled.ok()) return compiled.error();
      spdlog::info("{}: {} speaks {}", component.name, component.path.string(),
                   wasm::ShapeName((*compiled)->report().shape));
      auto services = MakeServices(component, brokers);
      auto runner = std::make_unique<ComponentRunner>(
          component, std::move(compiled).value(), std::move(services),
          *brokers.at(component.broker), config_.limits.queue_depth, budget_);
      if (!config_.host.metrics.empty()) runner->CountTopics(config_.host.metrics_max_topics);
      if (config_.host.tracing) runner->TraceCalls();
      runner->ExportSpans(spans_.get());
      FERRY_RETURN_IF_ERROR(runner->Start());
      std::unique_lock lock(runners_mutex_);
      runners_.push_back(std::move(runner));
    }
    return Status::Ok();
  }

  // Stops every component runner (see Host::StopForReload). A runner of a
  // component named in `hand_over` keeps the retries it holds for the next
  // one, and hands its subscriptions on the embedded broker over to it.
  std::vector<HeldRetry> StopComponents(std::chrono::milliseconds grace,
                                        const std::vector<std::string>& hand_over) {
    draining_.store(true);
    const Deadline deadline = Clock::now() + grace;
    for (auto& runner : runners_) {
      const bool keep = std::find(hand_over.begin(), hand_over.end(), runner->name()) !=
                        hand_over.end();
      runner->StopIntake(deadline, keep);
    }
    for (auto& runner : runners_) runner->Drain(deadline);
    std::vector<HeldRetry> held;
    for (auto& runner : runners_) {
      for (auto& h : runner->TakeHeld()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(h.due - Clock::now());
        held.push_back({runner->name(), std::move(h.delivery.message), h.delivery.attempt,
                        std::max(left, std::chrono::milliseconds(0))});
      }
    }
    std::vector<ComponentStats> final_stats = Stats();
    std::unique_lock lock(runners_mutex_);
    if (!runners_.empty()) last_stats_ = std::move(final_stats);
    runners_.clear();
    return held;
  }

  // Closes and forgets each broker whose name `ends` accepts. Listeners
  // on it end first (after the components, whose last messages they may be
  // waiting for), and control clients using it are disconnected.
  void CloseBrokers(const std::function<bool(const std::string&)>& ends) {
    std::vector<std::shared_ptr<Broker>> closing;
    {
      std::unique_lock lock(brokers_mutex_);
      for (auto it = brokers_.begin(); it != brokers_.end();) {
        if (!ends(it->first)) {
          ++it;
          continue;
        }
        closing.push_back(std::move(it->second));
        health_.erase(it->first);
        it = brokers_.erase(it);
      }
    }
    if (closing.empty()) return;
    std::vector<std::shared_ptr<ListenSlot>> listens;
    {
      std::lock_guard lock(listens_mutex_);
      for (auto it = listens_.begin(); it != listens_.end();) {
        auto slot = it->lock();
        const bool on_closing =
            slot && std::any_of(closing.begin(), closing.end(),
                                [&](const auto& b) { return b.get() == slot->broker; });
        if (slot && !on_closing) {
          ++it;
          continue;
        }
        if (slot) listens.push_back(std::move(slot));
        it = listens_.erase(it);
      }
    }
    for (auto& slot : listens) slot->End();
    for (auto& broker : closing) {
      if (control_) control_->EndConnectionsTo(broker.get());
      if (gateway_) gateway_->EndConnectionsTo(broker.get());
      broker->Close();
    }
  }

  // After a reload: retries held by the runners stopped go to the new
  // ones, and subscriptions on the embedded broker no component took up
  // again end.
  void FinishReload(std::vector<HeldRetry> held) {
    AdoptRetries(std::move(held));
    std::vector<std::shared_ptr<Broker>> brokers;
    {
      std::shared_lock lock(brokers_mutex_);
      for (const auto& [name, broker] : brokers_) brokers.push_back(broker);
    }
    for (auto& broker : brokers) broker->EndHandOvers();
  }

  // Opens the control socket, or keeps the one open when its settings did
  // not change: a reload leaves its clients connected.
  Status OpenControl() {
    ControlServerOptions options;
    options.max_connections = config_.host.max_control_connections;
    options.status = [this] { return RenderJson(Snapshot()); };
    if (control_ && control_->path() == config_.host.control_socket &&
        control_->options().max_connections == options.max_connections)
      return Status::Ok();
    if (control_) control_->Stop();
    control_.reset();
    if (config_.host.control_socket.empty()) return Status::Ok();
    control_ = std::make_unique<ControlServer>(
        config_.host.control_socket,
        [this](std::string_view name) -> std::shared_ptr<Broker> {
          auto broker = FindBroker(name);
          return broker.ok() ? *broker : nullptr;
        },
        options);
    return control_->Start();
  }

  // Opens the WebSocket gateway ([gateway]), or keeps the one open when
  // its settings did not change: a reload leaves its clients connected
  // (those of a broker the reload replaced were ended with it).
  Status OpenGateway() {
    if (gateway_ && gateway_->config() == config_.gateway) return Status::Ok();
    if (gateway_) gateway_->Stop();
    gateway_.reset();
    if (config_.gateway.websocket.empty()) return Status::Ok();
    gateway_ = gateway::MakeGateway(config_.gateway, [this](std::string_view name) -> std::shared_ptr<Broker> {
      auto broker = FindBroker(name);
      return broker.ok() ? *broker : nullptr;
    });
    Status started = gateway_->Start();
    if (!started.ok()) gateway_.reset();
    return started;
  }

  // `brokers` are this configuration's: they outlive its runners.
  std::shared_ptr<const wasm::GuestServices> MakeServices(const config::ComponentConfig& component,
                                                          std::map<std::string, Broker*> brokers) {
    auto services = std::make_shared<wasm::GuestServices>();
    services->component_name = component.name;
    services->max_message_bytes = config_.limits.max_message_bytes;
    services->max_metadata_bytes = config_.limits.max_metadata_bytes;
    services->max_request_wait = std::chrono::milliseconds(config_.limits.max_request_ms);
    services->handler_timeout = std::chrono::milliseconds(config_.limits.handler_timeout_ms);
    services->max_memory_bytes = config_.limits.max_memory_bytes;
    services->fuel_per_call = config_.limits.fuel_per_call;
    services->max_guest_messages = config_.limits.max_guest_messages;
    services->max_guest_message_bytes = config_.limits.max_guest_message_bytes;
    services->max_guest_clients = config_.limits.max_guest_clients;
    services->max_guest_request_options = config_.limits.max_guest_request_options;
    services->allow_publish = component.allow_publish;
    services->allow_request = component.allow_request;
    services->allow_subscribe = component.allow_subscribe;
    services->allow_http = component.allow_http;
    services->cloudevents_type = component.cloudevents_type;
    services->cloudevents_source =
        component.cloudevents_source.empty() ? "/ferry/" + component.name : component.cloudevents_source;
    std::vector<std::string> granted = component.connect;
    services->connect = [brokers = std::move(brokers), granted,
                         name = component.name](std::string_view client) -> Result<Broker*> {
      auto it = brokers.find(std::string(client));
      if (it == brokers.end())
        return Error::Connection("no broker named '" + std::string(client) + "' is configured");
      if (std::find(granted.begin(), granted.end(), client) == granted.end())
        return Error::PermissionDenied("component '" + name + "' may not connect to '" +
                                       std::string(client) + "'");
      return it->second;
    };
    return services;
  }

  config::Config config_;
  mutable std::shared_mutex brokers_mutex_;  // guards the map, not the brokers
  std::map<std::string, std::shared_ptr<Broker>> brokers_;
  std::unique_ptr<wasm::Engine> engine_;
  // Written by the host's own thread; read under the lock by metrics and
  // status threads.
  mutable std::shared_mutex runners_mutex_;
  std::vector<std::unique_ptr<ComponentRunner>> runners_;
  std::atomic<std::size_t> expected_components_{0};
  std::atomic<bool> draining_{false};
  const std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  struct BrokerHealth {
    std::atomic<bool> was_connected{false};
    std::atomic<std::uint64_t> reconnects{0};
  };
  std::map<std::string, std::shared_ptr<BrokerHealth>> health_;  // under brokers_mutex_
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<SpanExporter> spans_;  // replaced under runners_mutex_
  std::shared_ptr<InFlightBudget> budget_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::vector<ComponentStats> last_stats_;  // what Stats says once stopped
  std::mutex listens_mutex_;  // Listen may be called from any thread
  std::vector<std::weak_ptr<ListenSlot>> listens_;  // ended with their broker
};

}  // namespace

Result<std::unique_ptr<Host>> Host::Create(const HostOptions& options) {
  Result<config::Config> config = ConfigFor(options);
  if (!config.ok()) return config.error();
  // A URL with an unknown scheme or bad settings is a configuration error,
  // found before anything starts.
  FERRY_RETURN_IF_ERROR(CheckBrokers(*config));
  KeepPayloadBuffers();
  FERRY_RETURN_IF_ERROR(
      SetLogLevel(options.log_level.empty() ? config->host.log_level : options.log_level));
  FERRY_RETURN_IF_ERROR(
      SetLogFormat(options.log_format.empty() ? config->host.log_format : options.log_format));
  return std::unique_ptr<Host>(new HostImpl(std::move(config).value()));
}

Result<ComponentDescription> DescribeComponent(const std::filesystem::path& path) {
  auto engine = wasm::Engine::Create({.cache_dir = DefaultCacheDir(), .epoch_tick = std::chrono::milliseconds(10)});
  if (!engine.ok()) return engine.error();
  auto report = wasm::InspectComponent(**engine, path);
  if (!report.ok()) return report.error();
  ComponentDescription out;
  out.shape = std::string(wasm::ShapeName(report->shape));
  out.imports = report->imports;
  out.exports = report->exports;
  auto loaded = (*engine)->LoadComponent(path);
  if (!loaded.ok()) out.runnable = loaded.error();
  return out;
}

std::string_view Version() { return FERRY_VERSION; }

}  // namespace ferry
