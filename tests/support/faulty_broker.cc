#include "support/faulty_broker.h"

#include <thread>

namespace ferry::testing {
namespace {

void Delay(const Faults& faults) {
  if (auto ms = faults.delay_ms.load(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Refuses what the faults say, before the inner acker sees it, so the
// delivery stays unsettled as after a real refused ack.
class FaultyAcker final : public Acker {
 public:
  FaultyAcker(std::shared_ptr<Acker> inner, std::shared_ptr<Faults> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}
  Status Ack() override {
    return Settle(faults_->fail_ack, "ack", [&] { return inner_->Ack(); });
  }
  Status Nack(std::chrono::milliseconds delay) override {
    return Settle(faults_->fail_nack, "nack", [&] { return inner_->Nack(delay); });
  }
  Status Term() override {
    return Settle(faults_->fail_term, "term", [&] { return inner_->Term(); });
  }

 private:
  template <typename Fn>
  Status Settle(const std::atomic<bool>& fail, const char* what, Fn&& fn) {
    Delay(*faults_);
    if (fail.load()) {
      faults_->refused_settles.fetch_add(1);
      return Error::Connection(std::string("injected fault: ") + what + " refused");
    }
    return fn();
  }
  std::shared_ptr<Acker> inner_;
  std::shared_ptr<Faults> faults_;
};

class FaultyBroker final : public Broker {
 public:
  FaultyBroker(std::unique_ptr<Broker> inner, std::shared_ptr<Faults> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}

  std::string DisplayUrl() const override { return inner_->DisplayUrl(); }
  BrokerCapabilities Capabilities() const override { return inner_->Capabilities(); }
  Status Connect() override { return inner_->Connect(); }
  void Close() override { inner_->Close(); }
  ConnectionState State() const override { return inner_->State(); }
  void OnStateChange(std::function<void(ConnectionState)> callback) override {
    inner_->OnStateChange(std::move(callback));
  }

  Status Publish(const Message& message, Deadline deadline) override {
    FERRY_RETURN_IF_ERROR(Count());
    return inner_->Publish(message, deadline);
  }

  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeOptions options,
                                                  DeliveryHandler handler) override {
    Delay(*faults_);
    auto wrap = [faults = faults_](Delivery& d) {
      if (d.acker) d.acker = std::make_shared<FaultyAcker>(std::move(d.acker), faults);
    };
    if (options.try_handler) {
      options.try_handler = [wrap, inner = std::move(options.try_handler)](Delivery& d) {
        // The inner broker keeps the delivery when refused: give its acker back.
        auto original = d.acker;
        wrap(d);
        if (inner(d)) return true;
        d.acker = std::move(original);
        return false;
      };
    }
    return inner_->Subscribe(std::move(options), [wrap, handler = std::move(handler)](Delivery d) {
      wrap(d);
      handler(std::move(d));
    });
  }

  Result<std::vector<Message>> Request(const Message& message,
                                       const RequestOptions& options) override {
    FERRY_RETURN_IF_ERROR(Count());
    return inner_->Request(message, options);
  }

 private:
  Status Count() {
    Delay(*faults_);
    const std::uint64_t n = faults_->publishes.fetch_add(1) + 1;
    if (n == faults_->fail_publish_at.load())
      return Error::Connection("injected fault: publish " + std::to_string(n) + " fails");
    return Status::Ok();
  }

  std::unique_ptr<Broker> inner_;
  std::shared_ptr<Faults> faults_;
};

}  // namespace

std::unique_ptr<Broker> MakeFaultyBroker(std::unique_ptr<Broker> inner,
                                         std::shared_ptr<Faults> faults) {
  return std::make_unique<FaultyBroker>(std::move(inner), std::move(faults));
}

}  // namespace ferry::testing
