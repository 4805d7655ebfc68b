// RabbitMQ (AMQP 0-9-1) through rabbitmq-c 0.11 (Debian librabbitmq-dev).
// docs/brokers/rabbitmq.md is the user's view.
//
// Mapping: Ferry publishes to one topic exchange (default `amq.topic`) with
// the topic as routing key; a subscription binds a queue to it with the
// pattern ('*' stays '*', '>' becomes '#'). A queue group shares one named
// durable queue; any other subscription gets an exclusive auto-delete queue
// of its own. Metadata is the headers table, the content type the
// content_type property. Request-reply uses direct reply-to
// (`amq.rabbitmq.reply-to`) and correlation_id; a reply address as Ferry
// sees it is "<queue>#<hex correlation id>" and is published to the default
// exchange.
//
// Guarantees: every publish is persistent and waits for the publisher
// confirm. Deliveries are acknowledged manually: Ack is basic.ack, Nack(delay)
// holds the delivery for the delay and then basic.nacks it with requeue,
// Term basic.rejects it without requeue (to the dead-letter exchange, where
// one is configured). basic.qos sizes each subscription's prefetch from
// max_in_flight: that is the flow control.
//
// Threading: rabbitmq-c connections are not thread-safe, so each broker owns
// two connections (amqp_link.h), one for publishing and request-reply, one
// for subscriptions, and each connection is used only by its own I/O
// thread. Other threads hand it work through a command queue (and wake it
// through an eventfd); publishers and subscribers wait for the result.
// Deliveries go from the I/O thread to a thread per subscription, which
// calls the handler; the I/O thread never blocks on a handler. A lost
// connection is reopened by its I/O thread with backoff, and every
// subscription's queue, binding and consumer are declared again there.
// The OnStateChange callback runs on an I/O thread: it must not wait for
// the broker (Subscribe, Publish, Request would wait for that very thread).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "brokers/broker.h"

namespace ferry {

struct RabbitMqOptions {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string vhost = "/";
  std::string user = "guest", password = "guest";
  bool tls = false;  // amqps://
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  bool tls_verify = true;
  std::string exchange = "amq.topic";  // where topics are published
  // Queues Ferry declares get x-dead-letter-exchange (Term goes there).
  std::string dead_letter_exchange;
  bool persistent = true;  // delivery_mode 2
  // Publishes a guest's sends keep unconfirmed at once (PublishAsync,
  // publisher confirms); a send waits for room past this.
  std::uint32_t max_unconfirmed = kDefaultMaxUnconfirmed;
  int heartbeat_s = 30;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds reconnect_wait{250};
  std::chrono::milliseconds max_reconnect_wait{4000};
};

std::unique_ptr<Broker> MakeRabbitMqBroker(const RabbitMqOptions& options);

// From a `[brokers]` entry: amqp://[user[:password]@]host[:port][/vhost] or
// amqps://, with settings user, password, password_file, exchange, dead_letter_exchange,
// persistent, heartbeat_s, connect_timeout_ms, reconnect_wait_ms,
// max_reconnect_wait_ms, tls_ca, tls_cert, tls_key, tls_verify, max_unconfirmed.
// FERRY_AMQP_USER and FERRY_AMQP_PASSWORD fill in what the URL and the
// settings leave out.
Result<RabbitMqOptions> RabbitMqOptionsFrom(std::string_view url,
                                            const std::map<std::string, std::string>& settings);

}  // namespace ferry
