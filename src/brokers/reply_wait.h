// Waiting for the replies to one request, shared by the adapters: until
// enough arrived, the request's deadline passed, or its stop was requested
// (RequestOptions::stop). What a request ends with when none came.
#pragma once

#include <condition_variable>
#include <mutex>
#include <vector>

#include "brokers/broker.h"

namespace ferry {

// The replies to one request in progress. Filled by the adapter's receiving
// thread (Add), drained by the requesting thread (Wait).
class PendingReplies {
 public:
  void Add(Message reply);
  // Waits until options.expected_replies arrived, `deadline` passed or
  // options.stop was requested, and takes what arrived.
  std::vector<Message> Wait(Deadline deadline, const RequestOptions& options);

 private:
  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::vector<Message> replies_;
};

// What a request returns: at most expected_replies of `replies`; with none,
// a timeout, or Error::Cancelled when the request's stop was requested.
Result<std::vector<Message>> RequestResult(std::vector<Message> replies, const Message& request,
                                           const RequestOptions& options);

}  // namespace ferry
