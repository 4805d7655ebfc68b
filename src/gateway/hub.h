// One broker subscription per (broker, pattern), shared by every gateway
// connection subscribed to that pattern: a thousand pages watching
// "chat.room" cost the broker one subscriber, not a thousand (the embedded
// broker gives each subscription a thread). No Beast here.
//
// Threading: Join and Leave may block on the broker (they run on the
// gateway's broker pool, never on I/O threads). Deliveries run on the
// broker's thread and call Sink::Deliver, which must not block, under the
// entry's lock: once Leave returns, that sink gets nothing more.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "brokers/broker.h"

namespace ferry::gateway {

class Sink {
 public:
  virtual ~Sink() = default;
  // On a broker thread; must not block.
  virtual void Deliver(std::uint32_t id, const Message& message) = 0;
};

class SubscriptionHub {
 public:
  SubscriptionHub() = default;
  ~SubscriptionHub();  // ends what is left
  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  // Delivers messages on `pattern` of `broker` to `sink` as subscription
  // `id`, subscribing on the broker if no one is yet. Errors are the broker's.
  Status Join(Broker& broker, const std::string& pattern, std::weak_ptr<Sink> sink, std::uint32_t id);
  // Stops those deliveries; the broker subscription ends with its last sink.
  void Leave(const Broker* broker, const std::string& pattern, const Sink* sink, std::uint32_t id);
  // Broker subscriptions held now.
  std::size_t Size() const;

 private:
  struct Entry;
  using Key = std::pair<const Broker*, std::string>;

  mutable std::mutex mutex_;  // guards entries_; held while subscribing
  std::map<Key, std::shared_ptr<Entry>> entries_;
};

}  // namespace ferry::gateway
