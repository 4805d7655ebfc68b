// NATS through cnats (Debian libnats-dev): core subjects, queue groups,
// headers, and native request-reply. Ferry's topics are NATS subjects as they
// are: '.'-separated, '*' for one token and '>' for the rest.
//
// Core NATS delivers at most once: Ack and Nack are accepted and change
// nothing. A subscription whose extensions name a `stream` reads through
// JetStream instead: a consumer (durable when named by `durable` or by the
// queue group) delivers at least once, Ack acknowledges, Nack asks for
// redelivery after the delay, Term stops redelivery. The broker setting
// `jetstream` lists the subjects (patterns, comma-separated; true: all) that
// Publish sends through JetStream, returning once a stream stored them.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "brokers/broker.h"

namespace ferry {

struct NatsOptions {
  // One or more server URLs, comma-separated: nats://host:4222, tls://...
  // Credentials in a URL (nats://user:pass@host) are used, never logged.
  std::string url = "nats://127.0.0.1:4222";
  std::string user, password;  // or in the URL
  std::string token;
  std::string creds_file;      // a NATS .creds file (JWT and nkey seed)
  bool tls = false;            // also implied by tls:// URLs
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  std::string client_name = "ferry";
  std::chrono::milliseconds connect_timeout{2000};
  // Reconnect backoff: the first wait between passes over the servers,
  // doubling after each failed pass up to the maximum, forever.
  std::chrono::milliseconds reconnect_wait{250};
  std::chrono::milliseconds max_reconnect_wait{4000};
  // Subjects published through JetStream: Publish returns once a stream
  // stored the message. Every subject matching these must be in a stream.
  std::vector<std::string> jetstream_subjects;
  // JetStream publishes a guest's sends keep unconfirmed at once
  // (PublishAsync): a send waits for room past this. Setting max_unconfirmed.
  std::uint32_t max_unconfirmed = kDefaultMaxUnconfirmed;
};

std::unique_ptr<Broker> MakeNatsBroker(const NatsOptions& options);

// The URL list with any user:password@ removed: safe to log.
std::string NatsDisplayUrl(std::string_view urls);

// The wait before reconnect pass `attempts` (1, 2, ...): `first`, doubling,
// at most `max`.
std::chrono::milliseconds NatsReconnectDelay(std::chrono::milliseconds first,
                                             std::chrono::milliseconds max, int attempts);

// The options a `[brokers]` entry describes: the URL and its settings
// (user, password, password_file, token, token_file, creds, tls, tls_ca, tls_cert, tls_key, name,
// connect_timeout_ms, reconnect_wait_ms, max_reconnect_wait_ms, jetstream,
// max_unconfirmed).
// FERRY_NATS_USER, FERRY_NATS_PASSWORD and FERRY_NATS_TOKEN fill in what the
// config leaves out, so secrets need not be written into ferry.toml.
Result<NatsOptions> NatsOptionsFrom(std::string_view url,
                                    const std::map<std::string, std::string>& settings);

}  // namespace ferry
