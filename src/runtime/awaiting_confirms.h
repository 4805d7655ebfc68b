// Deliveries whose handler has finished but whose sends the broker has not
// all confirmed yet (Broker::PublishAsync). The worker parks them here and
// goes on to the next message; they are settled once the last confirmation
// arrives: acked when every send was confirmed, failed (retried or
// dead-lettered by the policy) when one was lost.
//
// Threads: Park runs on a worker. Confirmations arrive on adapter threads
// (cnats's, libmosquitto's, librdkafka's, ...) and only queue the outcome,
// which never blocks them; this object's own thread settles (an ack, or a
// failure whose dead-letter publish may wait), so no adapter thread ever
// waits on Ferry and no settle runs inside a broker library's callback.
// Handlings whose sends were all confirmed by the time the handler returned
// (brokers without confirmations, a fast broker) are settled at once on the
// worker, with no hand-off.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "brokers/broker.h"
#include "brokers/pending_sends.h"

namespace ferry {

class AwaitingConfirms {
 public:
  // Settles `deliveries`: `outcome` is Ok when every send was confirmed,
  // else the first loss. Runs on the worker (settled at once) or on this
  // object's thread; never on an adapter thread.
  using Settle = std::function<void(std::vector<Delivery>& deliveries, const Status& outcome)>;

  explicit AwaitingConfirms(Settle settle);
  ~AwaitingConfirms();
  AwaitingConfirms(const AwaitingConfirms&) = delete;
  AwaitingConfirms& operator=(const AwaitingConfirms&) = delete;

  // After the handler returned: `deliveries` are settled once `sends` has
  // completed (now, on this thread, if it has). They are taken: the vector
  // is left empty, with its capacity when they were settled at once (the
  // worker reuses it).
  void Park(std::vector<Delivery>& deliveries, const std::shared_ptr<PendingSends>& sends);

  // Waits until nothing is parked or being settled, or `deadline`. Returns what is still
  // parked then, taken out: a confirmation arriving later changes nothing,
  // and the caller gives them back to the broker (released, redelivered).
  std::vector<Delivery> WaitEmpty(Deadline deadline);

  // Deliveries parked now.
  std::size_t size() const;

  // Stops the thread (after WaitEmpty). Idempotent.
  void Stop();

 private:
  // Shared with the completions handed to adapters, which may outlive
  // this object: once `closed`, they change nothing.
  struct State {
    std::mutex mutex;
    std::condition_variable cv;        // work for the thread, or stop
    std::condition_variable emptied;   // `parked` became empty
    std::map<std::uint64_t, std::vector<Delivery>> parked;
    std::size_t parked_deliveries = 0;
    int settling = 0;  // taken out by the thread, being settled
    std::deque<std::pair<std::uint64_t, Status>> confirmed;
    std::uint64_t next_id = 0;
    bool closed = false;
  };
  void Loop();

  Settle settle_;
  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace ferry
