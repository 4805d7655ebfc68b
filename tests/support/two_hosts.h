// Two Ferry processes sharing a queue group, as users scale out: one runs
// the echo example, the other the transformer, both on `topic` in queue
// group "workers". Used by every broker's tests.
#pragma once

#include <chrono>

#include <map>
#include <string>

namespace ferry::testing {

// Publishes `count` messages to `topic` through a connection made from
// `url` and `options` and expects each handled exactly once, by one process
// or the other, with both taking part. `brokers_toml` is the [brokers] body.
void ExpectTwoHostsShareTheWork(const std::string& brokers_toml, const std::string& url,
                                const std::map<std::string, std::string>& options,
                                const std::string& topic, int count);

}  // namespace ferry::testing

namespace ferry::testing {

class RunningHost;

// A ferry.toml running the echo, greeter and shouter examples on the broker
// `brokers_toml` describes, on <prefix>.echo.in and <prefix>.greet.
std::string ExamplesOnBroker(const std::string& brokers_toml, const std::string& prefix);

// Publishes `body` with metadata and a content type to `topic` and expects
// the echo example to send all three back on echo.out.
void ExpectEchoRoundTrip(RunningHost& host, const std::string& topic, const std::string& body);

// Requests "world" on <prefix>.greet and expects both responders of
// ExamplesOnBroker (greeter and shouter) to answer within `limit`; then a
// request nobody answers ends in a Timeout.
void ExpectTwoRepliesThenATimeout(RunningHost& host, const std::string& prefix,
                                  std::chrono::milliseconds limit);

}  // namespace ferry::testing
