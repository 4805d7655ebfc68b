#include "gateway/hub.h"

#include <algorithm>

namespace ferry::gateway {

struct SubscriptionHub::Entry {
  // Called on the broker's thread. A sink's owner may be gone (weak); the
  // strong reference taken here ends inside the lock, so Leave, which
  // waits for the lock, always outlasts it.
  void Fan(const Message& message) {
    std::lock_guard lock(mutex);
    for (const auto& t : sinks)
      if (auto sink = t.sink.lock()) sink->Deliver(t.id, message);
  }

  struct Target {
    std::weak_ptr<Sink> sink;
    const Sink* address;  // what Leave compares: the sink may be expiring
    std::uint32_t id;
  };
  std::mutex mutex;
  std::vector<Target> sinks;  // guarded
  std::unique_ptr<Subscription> subscription;  // set once, under the hub's lock
};

SubscriptionHub::~SubscriptionHub() {
  std::map<Key, std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    entries.swap(entries_);
  }
  for (auto& [key, entry] : entries) entry->subscription.reset();
}

Status SubscriptionHub::Join(Broker& broker, const std::string& pattern, std::weak_ptr<Sink> sink,
                             std::uint32_t id) {
  std::lock_guard lock(mutex_);
  const Key key{&broker, pattern};
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    std::lock_guard entry_lock(it->second->mutex);
    it->second->sinks.push_back({sink, sink.lock().get(), id});
    return Status::Ok();
  }
  auto entry = std::make_shared<Entry>();
  entry->sinks.push_back({sink, sink.lock().get(), id});
  SubscribeOptions options;
  options.pattern = pattern;
  options.manual_ack = false;  // a tap: browsers settle nothing
  std::weak_ptr<Entry> weak = entry;
  // Fan never blocks, so the embedded broker may call it on the
  // publishing thread and skip a hand-off.
  options.try_handler = [weak](Delivery& d) {
    if (auto e = weak.lock()) e->Fan(d.message);
    return true;
  };
  auto sub = broker.Subscribe(std::move(options), [weak](Delivery d) {
    if (auto e = weak.lock()) e->Fan(d.message);
  });
  if (!sub.ok()) return sub.error();
  entry->subscription = std::move(*sub);
  entries_.emplace(key, std::move(entry));
  return Status::Ok();
}

void SubscriptionHub::Leave(const Broker* broker, const std::string& pattern, const Sink* sink,
                            std::uint32_t id) {
  std::unique_ptr<Subscription> last;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(Key{broker, pattern});
    if (it == entries_.end()) return;
    Entry& entry = *it->second;
    bool empty;
    {
      std::lock_guard entry_lock(entry.mutex);
      std::erase_if(entry.sinks, [&](const Entry::Target& t) { return t.address == sink && t.id == id; });
      empty = entry.sinks.empty();
    }
    if (empty) {
      last = std::move(entry.subscription);
      entries_.erase(it);
    }
  }
  last.reset();  // outside the locks: it waits for a running Fan
}

std::size_t SubscriptionHub::Size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace ferry::gateway
