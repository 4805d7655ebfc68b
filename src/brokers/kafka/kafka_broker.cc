#include "brokers/kafka/kafka_broker.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include "brokers/kafka/kafka_client.h"
#include "brokers/kafka/kafka_consumer.h"
#include "brokers/publish_window.h"
#include "brokers/reply_wait.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using kafka::Handle;

// One Publish waiting for its delivery report. Owned jointly by Publish and
// the record's opaque (a heap shared_ptr the delivery callback deletes).
// A PublishAsync sets `completion` instead: nobody waits, the delivery
// report calls it and gives the window's place back.
struct PendingPublish {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  PublishCompletion completion;
  PublishWindow* window = nullptr;  // the broker's; outlives the producer
  std::string topic;
};

// This broker's requests waiting for replies, by correlation id.
struct ReplyBox {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<PendingReplies>> waiting;
};

class KafkaBroker final : public Broker {
 public:
  explicit KafkaBroker(KafkaOptions options)
      : options_(std::move(options)), display_("kafka://" + options_.Bootstrap()) {}
  ~KafkaBroker() override { Close(); }

  std::string DisplayUrl() const override { return display_; }
  BrokerCapabilities Capabilities() const override {
    return {.headers = true, .native_request_reply = false, .queue_groups = true,
            .redelivery = true, .durable = true, .wildcard_subscriptions = true};
  }

  Status Connect() override;
  void Close() override;
  ConnectionState State() const override { return state_.load(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    on_state_ = std::move(callback);
  }
  Status Publish(const Message& message, Deadline deadline) override;
  Status PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) override;
  std::uint64_t UnconfirmedPublishes() const override { return window_.used(); }
  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override;
  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override;

 private:
  void SetState(ConnectionState next) {
    if (state_.exchange(next) == next) return;
    spdlog::debug("{}: {}", display_, ConnectionStateName(next));
    if (on_state_) on_state_(next);
  }
  // Metadata round trips until one succeeds, `timeout` passes, or the
  // server refused us for good (a certificate or a password it will not
  // take: waiting longer changes nothing).
  rd_kafka_resp_err_t ProbeUntilRefused(std::chrono::milliseconds timeout) {
    const Deadline until = Clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      const rd_kafka_resp_err_t err = Probe(std::clamp(left, 1ms, 250ms));
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || Clock::now() >= until) return err;
      std::lock_guard lock(error_mutex_);
      if (refused_) return err;
    }
  }
  // One metadata round trip: is any broker answering?
  rd_kafka_resp_err_t Probe(std::chrono::milliseconds timeout) {
    const rd_kafka_metadata_t* raw = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(producer_.get(), 0, nullptr, &raw, static_cast<int>(timeout.count()));
    kafka::MetadataPtr md(raw);
    return err;
  }
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static int OnVerify(rd_kafka_t*, const char*, int32_t, int* x509_error, int, const char*,
                      std::size_t, char* errstr, std::size_t errstr_size, void* opaque);
  // Hands a record to librdkafka (waiting while its queue is full, up to
  // `deadline`); its delivery report goes to `pending`.
  Status Produce(const Message& message, Deadline deadline,
                 const std::shared_ptr<PendingPublish>& pending);
  void PollLoop();
  void MonitorLoop();
  Status StartReplies();
  void ReplyLoop();

  KafkaOptions options_;
  std::string display_;
  PublishWindow window_{options_.max_unconfirmed};  // PublishAsync records not yet reported
  std::mutex connect_mutex_;  // Connect and Close
  // Guards producer_ against Close: Publish holds it shared while it hands a
  // record over (not while it waits for the report), Close exclusively.
  std::shared_mutex producer_mutex_;
  Handle producer_;
  std::atomic<bool> stopping_{false};
  std::thread poll_thread_, monitor_thread_;
  std::mutex monitor_mutex_;
  std::condition_variable monitor_cv_;
  std::atomic<ConnectionState> state_{ConnectionState::kDisconnected};
  std::function<void(ConnectionState)> on_state_;
  std::mutex error_mutex_;
  std::string last_error_;  // librdkafka's last client-level error, for Connect's message
  std::string tls_refusal_;  // why the server's certificate was refused, for Connect's message
  // The server refused us for good (a TLS alert or certificate, a SASL
  // failure): librdkafka would go on retrying, Connect gives up at once
  // and says why (the errors that follow, "all brokers are down", say less).
  bool refused_ = false;
  std::string refusal_;

  // Request-reply: a topic private to this broker object, read without a
  // group from its one partition.
  std::mutex reply_mutex_;
  Handle reply_consumer_;
  std::string reply_topic_;
  std::thread reply_thread_;
  std::shared_ptr<ReplyBox> box_ = std::make_shared<ReplyBox>();
  std::atomic<std::uint64_t> next_correlation_{1};
};

// Called on the producer's poll thread (rd_kafka_poll) for each record;
// `record->_private` is the heap shared_ptr Publish made, freed here.
void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* record, void*) {
  auto* pending = static_cast<std::shared_ptr<PendingPublish>*>(record->_private);
  if (!pending) return;
  if ((*pending)->completion) {
    std::shared_ptr<PendingPublish> async = std::move(*pending);
    delete pending;
    if (record->err != RD_KAFKA_RESP_ERR_NO_ERROR)
      async->completion(kafka::KafkaError(fmt::format("publishing to {}", async->topic), record->err));
    else
      async->completion(Status::Ok());
    async->window->Release();  // after the report: the place is held until then
    return;
  }
  {
    std::lock_guard lock((*pending)->mutex);
    (*pending)->done = true;
    (*pending)->err = record->err;
  }
  (*pending)->cv.notify_all();
  delete pending;
}

// Called on the producer's poll thread for client-level errors; `opaque`
// is the broker.
void KafkaBroker::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaBroker*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char why[512];
    rd_kafka_fatal_error(rk, why, sizeof why);
    spdlog::error("{}: the producer failed for good: {}", self->display_, why);
  } else {
    spdlog::debug("{}: {}", self->display_, reason);
  }
  {
    std::lock_guard lock(self->error_mutex_);
    self->last_error_ = reason;
    // librdkafka reports a TLS alert from the server (it refused our
    // certificate, or its absence) as a transport error; its text is the
    // only sign of it.
    const bool alert = err == RD_KAFKA_RESP_ERR__TRANSPORT && std::strstr(reason, "SSL alert number") != nullptr;
    if ((err == RD_KAFKA_RESP_ERR__SSL || err == RD_KAFKA_RESP_ERR__AUTHENTICATION || alert) && !self->refused_) {
      self->refused_ = true;
      self->refusal_ = reason;
    }
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__FATAL)
    self->monitor_cv_.notify_all();
}

// Called on a broker thread of librdkafka for each certificate of the
// server's chain, with OpenSSL's verdict in `x509_error`: keeps the verdict
// and the reason of a refusal, for Connect's message.
int KafkaBroker::OnVerify(rd_kafka_t*, const char*, int32_t, int* x509_error, int, const char*,
                          std::size_t, char* errstr, std::size_t errstr_size, void* opaque) {
  if (*x509_error == 0) return 1;
  auto* self = static_cast<KafkaBroker*>(opaque);
  const char* reason = X509_verify_cert_error_string(*x509_error);
  std::snprintf(errstr, errstr_size, "%s", reason);
  std::lock_guard lock(self->error_mutex_);
  if (self->tls_refusal_.empty()) self->tls_refusal_ = reason;
  self->refused_ = true;
  return 0;
}

Status KafkaBroker::Connect() {
  std::lock_guard lock(connect_mutex_);
  if (producer_) {
    // Connected before: librdkafka repairs the link by itself.
    if (state_.load() == ConnectionState::kConnected) return Status::Ok();
    return Error::Connection(display_ + " is unreachable; reconnecting");
  }
  {
    SetState(ConnectionState::kConnecting);
    auto conf = kafka::BaseConf(options_);
    if (!conf.ok()) return conf.error();
    rd_kafka_conf_t* c = conf->get();
    FERRY_RETURN_IF_ERROR(kafka::Set(c, "enable.idempotence", "true"));
    FERRY_RETURN_IF_ERROR(kafka::Set(c, "acks", "all"));
    FERRY_RETURN_IF_ERROR(kafka::Set(c, "linger.ms", "1"));
    // The topic's max.message.bytes (1 MB by default) is the limit, not the client's.
    FERRY_RETURN_IF_ERROR(kafka::Set(c, "message.max.bytes", "100000000"));
    FERRY_RETURN_IF_ERROR(
        kafka::Set(c, "message.timeout.ms", std::to_string(options_.delivery_timeout.count())));
    for (const auto& [name, value] : options_.rdkafka) FERRY_RETURN_IF_ERROR(kafka::Set(c, name, value));
    rd_kafka_conf_set_dr_msg_cb(c, OnDelivery);
    rd_kafka_conf_set_error_cb(c, &KafkaBroker::OnError);
    if (options_.tls && rd_kafka_conf_set_ssl_cert_verify_cb(c, &KafkaBroker::OnVerify) != RD_KAFKA_CONF_OK)
      return Error::Internal(display_ + ": this librdkafka cannot check certificates");
    rd_kafka_conf_set_opaque(c, this);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
      SetState(ConnectionState::kDisconnected);
      return Error::Internal(fmt::format("{}: creating a producer: {}", display_, err));
    }
    (void)conf->release();  // rd_kafka_new owns it now
    producer_.reset(rk);
    stopping_ = false;
    poll_thread_ = std::thread([this] { PollLoop(); });
  }
  const rd_kafka_resp_err_t err = ProbeUntilRefused(options_.connect_timeout);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    stopping_ = true;
    poll_thread_.join();
    producer_.reset();
    SetState(ConnectionState::kDisconnected);
    bool refused = false;
    std::string why;
    {
      std::lock_guard lock(error_mutex_);
      refused = refused_;
      why = refused && !refusal_.empty() ? refusal_ : last_error_;
    }
    // librdkafka's reasons name the server ("127.0.0.1:9/bootstrap: Connect
    // to ... failed: Connection refused"): keep its last clause.
    if (const auto colon = why.rfind(": "); colon != std::string::npos) why = why.substr(colon + 2);
    if (const auto after = why.find(" (after "); after != std::string::npos) why.resize(after);
    if (why.empty()) why = rd_kafka_err2str(err);
    for (char& ch : why)
      if (ch == '\n') ch = ' ';
    {
      std::lock_guard lock(error_mutex_);
      if (!tls_refusal_.empty()) why = "TLS: certificate verify failed (" + tls_refusal_ + ")";
    }
    // A server that wants a client certificate ends the handshake with an
    // alert (42, bad certificate; 116, certificate required).
    if (options_.tls && options_.tls_cert_file.empty() && why.find("alert") != std::string::npos)
      why += "; does the server require a client certificate (tls_cert, tls_key)?";
    {
      std::lock_guard lock(error_mutex_);
      refused_ = false;
      refusal_.clear();
      tls_refusal_.clear();
    }
    if (refused) return Error::Connection(fmt::format("cannot connect to {}: {}", display_, why));
    return Error::Connection(fmt::format("cannot connect to {} within {} ms: {}", display_,
                                         options_.connect_timeout.count(), why));
  }
  SetState(ConnectionState::kConnected);
  if (!monitor_thread_.joinable()) monitor_thread_ = std::thread([this] { MonitorLoop(); });
  return Status::Ok();
}

void KafkaBroker::Close() {
  std::lock_guard lock(connect_mutex_);
  if (!producer_) return;
  stopping_ = true;
  monitor_cv_.notify_all();
  if (monitor_thread_.joinable()) monitor_thread_.join();
  {
    std::lock_guard reply_lock(reply_mutex_);
    if (reply_thread_.joinable()) reply_thread_.join();
    if (reply_consumer_) {
      (void)rd_kafka_consumer_close(reply_consumer_.get());
      reply_consumer_.reset();
      // The reply topic is this object's alone: remove it.
      rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_.get());
      rd_kafka_DeleteTopic_t* del = rd_kafka_DeleteTopic_new(reply_topic_.c_str());
      rd_kafka_DeleteTopics(producer_.get(), &del, 1, nullptr, queue);
      rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 2000);
      if (ev) rd_kafka_event_destroy(ev);
      rd_kafka_DeleteTopic_destroy(del);
      rd_kafka_queue_destroy(queue);
    }
  }
  // Records still queued get their delivery reports (failed) before the end.
  (void)rd_kafka_flush(producer_.get(), 2000);
  (void)rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_.get(), 0);
  poll_thread_.join();
  std::unique_lock producer_lock(producer_mutex_);
  producer_.reset();
  SetState(ConnectionState::kClosed);
}

void KafkaBroker::PollLoop() {
  while (!stopping_.load()) rd_kafka_poll(producer_.get(), 100);
}

// Watches the link: a metadata round trip every second while connected,
// every 250 ms while not. librdkafka reconnects by itself.
void KafkaBroker::MonitorLoop() {
  std::unique_lock lock(monitor_mutex_);
  while (!stopping_.load()) {
    const bool up = state_.load() == ConnectionState::kConnected;
    monitor_cv_.wait_for(lock, up ? 1000ms : 250ms);
    if (stopping_.load()) break;
    lock.unlock();
    const rd_kafka_resp_err_t err = Probe(1000ms);
    lock.lock();
    if (stopping_.load()) break;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (state_.load() != ConnectionState::kConnected) spdlog::info("{}: connected again", display_);
      SetState(ConnectionState::kConnected);
    } else if (state_.load() == ConnectionState::kConnected) {
      spdlog::warn("{}: connection lost ({}); reconnecting", display_, rd_kafka_err2str(err));
      SetState(ConnectionState::kReconnecting);
    }
  }
}

Status KafkaBroker::Publish(const Message& message, Deadline deadline) {
  auto pending = std::make_shared<PendingPublish>();
  FERRY_RETURN_IF_ERROR(Produce(message, deadline, pending));
  std::unique_lock lock(pending->mutex);
  if (!pending->cv.wait_until(lock, deadline, [&] { return pending->done; }))
    return Error::Timeout(fmt::format("{}: no acknowledgement for {} before the deadline", display_,
                                      message.topic));
  if (pending->err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka::KafkaError(fmt::format("publishing to {}", message.topic), pending->err);
  return Status::Ok();
}

// The delivery report (acks=all, idempotent producer) completes it on the
// poll thread; until then it holds a place in the window.
Status KafkaBroker::PublishAsync(const Message& message, Deadline deadline, PublishCompletion done) {
  FERRY_RETURN_IF_ERROR(window_.Acquire(deadline, display_ + ": publish to " + message.topic));
  auto pending = std::make_shared<PendingPublish>();
  pending->completion = std::move(done);
  pending->window = &window_;
  pending->topic = message.topic;
  Status queued = Produce(message, deadline, pending);
  if (!queued.ok()) window_.Release();
  return queued;
}

Status KafkaBroker::Produce(const Message& message, Deadline deadline,
                            const std::shared_ptr<PendingPublish>& pending) {
  auto dest = kafka::ParseDestination(message.topic);
  if (!dest.ok()) return dest.error();
  auto headers = kafka::ToHeaders(message);
  if (!headers.ok()) return headers.error();
  if (dest->has_correlation) {
    const std::string_view id = dest->correlation;
    rd_kafka_header_add(headers->get(), kafka::kCorrelationHeader.data(),
                        static_cast<ssize_t>(kafka::kCorrelationHeader.size()), id.data(),
                        static_cast<ssize_t>(id.size()));
  }
  std::shared_lock producer_lock(producer_mutex_);
  if (!producer_ || stopping_.load()) return Error::Connection(display_ + " is closed");
  if (state_.load() != ConnectionState::kConnected)
    return Error::Connection(display_ + " is unreachable; reconnecting");
  const auto key = message.metadata.Get(kafka::kKeyMetadata);
  const char* key_data = key ? key->data() : nullptr;
  const std::size_t key_size = key ? key->size() : 0;
  while (true) {
    auto* opaque = new std::shared_ptr<PendingPublish>(pending);
    // An empty payload is sent as an empty value, not as a null one.
    static const char kEmpty = 0;
    const void* data = message.data.empty() ? static_cast<const void*>(&kEmpty) : message.data.data();
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(dest->topic.c_str()),
        RD_KAFKA_V_VALUE(const_cast<void*>(data), message.data.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key_data, key_size),
        RD_KAFKA_V_HEADERS(headers->get()), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)headers->release();  // the record owns them now
      break;
    }
    delete opaque;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
      return kafka::KafkaError(fmt::format("publishing to {}", message.topic), err);
    if (stopping_.load()) return Error::Connection(display_ + " is closed");
    if (Clock::now() >= deadline)
      return Error::ResourceExhausted(fmt::format("{}: the producer queue stayed full", display_));
    std::this_thread::sleep_for(5ms);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Subscription>> KafkaBroker::Subscribe(SubscribeOptions options,
                                                             DeliveryHandler handler) {
  WarnUnknownExtensions("kafka", options.extensions, {"group"});
  auto checked = kafka::ToSubscription(options.pattern);
  if (!checked.ok()) return checked.error();
  if (!producer_ || stopping_.load()) return Error::Connection(display_ + " is closed");
  return kafka::MakeKafkaSubscription({options_, display_}, std::move(options), std::move(handler));
}

// Creates the reply topic (one partition) and reads it from the start.
// Caller holds reply_mutex_.
Status KafkaBroker::StartReplies() {
  std::random_device rd;
  reply_topic_ = fmt::format("_INBOX.ferry-{:08x}{:08x}", rd(), rd());
  char errstr[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(reply_topic_.c_str(), 1, -1, errstr, sizeof errstr);
  if (!topic) return Error::Internal(fmt::format("{}: reply topic: {}", display_, errstr));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_.get());
  rd_kafka_CreateTopics(producer_.get(), &topic, 1, nullptr, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, static_cast<int>(options_.connect_timeout.count()));
  rd_kafka_resp_err_t err = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
  if (ev && err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (n == 1) err = rd_kafka_topic_result_error(results[0]);
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    return kafka::KafkaError(fmt::format("{}: creating reply topic {}", display_, reply_topic_), err);

  auto conf = kafka::BaseConf(options_);
  if (!conf.ok()) return conf.error();
  // A group id is required to assign partitions; the group is never joined
  // and nothing is committed.
  FERRY_RETURN_IF_ERROR(kafka::Set(conf->get(), "group.id", reply_topic_));
  FERRY_RETURN_IF_ERROR(kafka::Set(conf->get(), "fetch.wait.max.ms", "50"));
  FERRY_RETURN_IF_ERROR(kafka::Set(conf->get(), "enable.auto.commit", "false"));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
  if (!rk) return Error::Internal(fmt::format("{}: reply consumer: {}", display_, errstr));
  (void)conf->release();
  reply_consumer_.reset(rk);
  rd_kafka_poll_set_consumer(rk);
  kafka::Partitions partitions(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(partitions.get(), reply_topic_.c_str(), 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  if (rd_kafka_resp_err_t e = rd_kafka_assign(rk, partitions.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka::KafkaError(fmt::format("{}: reading reply topic", display_), e);
  reply_thread_ = std::thread([this] { ReplyLoop(); });
  return Status::Ok();
}

void KafkaBroker::ReplyLoop() {
  while (!stopping_.load()) {
    kafka::Record record(rd_kafka_consumer_poll(reply_consumer_.get(), 100));
    if (!record || record->err) continue;
    std::string correlation;
    rd_kafka_headers_t* headers = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    if (rd_kafka_message_headers(record.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, kafka::kCorrelationHeader.data(), &value, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        value)
      correlation.assign(static_cast<const char*>(value), size);
    std::shared_ptr<PendingReplies> pending;
    {
      std::lock_guard lock(box_->mutex);
      auto it = box_->waiting.find(correlation);
      if (it == box_->waiting.end()) continue;  // late, or not ours
      pending = it->second;
    }
    pending->Add(kafka::FromRecord(std::move(record)));
  }
}

Result<std::vector<Message>> KafkaBroker::Request(const Message& message,
                                                  const RequestOptions& options) {
  auto dest = kafka::ToKafkaTopic(message.topic);
  if (!dest.ok()) return dest.error();
  {
    std::lock_guard lock(reply_mutex_);
    if (!producer_ || stopping_.load()) return Error::Connection(display_ + " is closed");
    if (!reply_consumer_) FERRY_RETURN_IF_ERROR(StartReplies());
  }
  const std::string correlation = std::to_string(next_correlation_.fetch_add(1));
  auto pending = std::make_shared<PendingReplies>();
  {
    std::lock_guard lock(box_->mutex);
    box_->waiting[correlation] = pending;
  }
  struct Forget {
    ReplyBox& box;
    const std::string& id;
    ~Forget() {
      std::lock_guard lock(box.mutex);
      box.waiting.erase(id);
    }
  } forget{*box_, correlation};
  const Deadline deadline = Clock::now() + options.timeout;
  Message request = message;
  request.reply_to = kafka::ReplyAddress(reply_topic_, correlation);
  Status sent = Publish(request, deadline);
  if (!sent.ok()) {
    if (sent.error().code() == ErrorCode::kTimeout)
      return Error::Timeout(fmt::format("no reply on {} within {} ms", message.topic,
                                        options.timeout.count()));
    return sent.error();
  }
  return RequestResult(pending->Wait(deadline, options), message, options);
}

}  // namespace

std::unique_ptr<Broker> MakeKafkaBroker(const KafkaOptions& options) {
  return std::make_unique<KafkaBroker>(options);
}

}  // namespace ferry
