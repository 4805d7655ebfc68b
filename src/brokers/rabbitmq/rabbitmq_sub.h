// One Ferry subscription on the RabbitMQ adapter: its queue, channel and
// consumer on the subscribing connection, and a thread that hands the
// deliveries the I/O thread queued to the handler, one at a time. The
// server's prefetch (basic.qos, sized from max_in_flight) bounds what is
// queued here, so the I/O thread never waits for room.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "brokers/broker.h"
#include "brokers/rabbitmq/amqp_link.h"
#include "core/timer.h"

namespace ferry::amqp {

struct Received {
  Message message;
  std::uint64_t tag = 0;    // delivery tag on the channel of `epoch`
  std::uint64_t epoch = 0;
  std::uint32_t attempt = 1;
  std::string message_id;
};

struct Sub {
  SubscribeOptions options;
  DeliveryHandler handler;
  std::string binding;     // binding key on the exchange
  std::string queue_name;  // named durable queue; empty: exclusive, server-named
  std::uint16_t prefetch = 256;

  // The subscribing link's I/O thread only. `epoch` is 0 while there is no
  // consumer and changes with every channel, so a late ack of a delivery
  // from an earlier channel (or connection) is recognised and dropped.
  amqp_channel_t channel = 0;
  std::uint64_t epoch = 0;
  std::string queue;  // the declared queue

  std::mutex mutex;  // guards what follows
  std::condition_variable changed;
  std::deque<Received> pending;
  std::map<std::string, std::uint32_t> attempts;  // message id -> next attempt, after a nack
  bool paused = false;
  bool stopping = false;
  bool registered = true;  // false once unsubscribed
  std::thread thread;

  // I/O thread: never waits.
  void Push(Received r);
  void Stop();
  // The subscription's thread: hands deliveries to the handler.
  void Run(std::weak_ptr<Sub> self, std::shared_ptr<Link> link, std::shared_ptr<Timer> timer);
  // The attempt a delivery is: after a nack of this process, what the nack
  // recorded; else 2 when the server says it was delivered before, else 1.
  std::uint32_t AttemptOf(const std::string& message_id, bool redelivered);
};

}  // namespace ferry::amqp
