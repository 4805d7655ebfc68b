// Redis through hiredis (Debian libhiredis-dev), in two modes:
//
// Pub/sub (PUBLISH, SUBSCRIBE, PSUBSCRIBE): at most once. A message
//   published while nobody listens, or while a subscriber is reconnecting,
//   is gone. No queue groups, no redelivery.
// Streams (XADD, XREADGROUP, XACK): at least once. One stream per topic,
//   named as the topic. A subscription reads through a consumer group (its
//   queue group, else a group of its own). An entry is acknowledged once
//   handled. An entry failed or abandoned stays pending and is claimed again
//   after the delay. Pending entries of a consumer that went away are taken
//   over after `claim_idle_ms`. An entry given up on (Term, or past
//   `max_deliver`) moves to the dead-letter stream <topic><dead_letter_suffix>.
//
// The broker's `publish` setting picks where Publish writes; a subscription
// reads in that mode unless its `mode` extension says otherwise.
// Request-reply uses private _INBOX.* topics, always over pub/sub.
// hiredis 0.14 has no TLS: rediss:// is refused.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "brokers/broker.h"
#include "brokers/redis/redis_wire.h"

namespace ferry {

struct RedisOptions {
  redis::Endpoint endpoint;
  bool publish_streams = false;  // false: PUBLISH; true: XADD
  std::string dead_letter_suffix = ".dead";
  std::uint64_t max_len = 0;  // XADD MAXLEN ~ max_len (0: unbounded)
  // XADDs a guest's sends keep unanswered at once (PublishAsync); a send
  // waits for room past this. Setting max_unconfirmed.
  std::uint32_t max_unconfirmed = kDefaultMaxUnconfirmed;
  std::chrono::milliseconds claim_idle{30000};
  // Longest wait for the server's answer to a command (publish, ack, claim).
  // A server that stalls longer breaks the connection: send fails with the
  // interface's connection error instead of hanging.
  std::chrono::milliseconds command_timeout{5000};
};

std::unique_ptr<Broker> MakeRedisBroker(const RedisOptions& options);

// From a `[brokers]` entry: redis://[[user]:password@]host[:port][/db], with
// settings publish ("pubsub" or "streams"), dead_letter_suffix, max_len, max_unconfirmed,
// claim_idle_ms, connect_timeout_ms, command_timeout_ms, user, password. FERRY_REDIS_PASSWORD
// fills in a password the config leaves out.
Result<RedisOptions> RedisOptionsFrom(std::string_view url,
                                      const std::map<std::string, std::string>& settings);

}  // namespace ferry
