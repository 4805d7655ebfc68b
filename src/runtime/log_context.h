// What a log line is about, kept per thread: the component a worker runs
// and the topic of the delivery it handles. The JSON log format puts them in
// their own fields; the text format leaves them to the message.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

struct LogContext {
  const std::string* component = nullptr;
  const std::string* topic = nullptr;
};

inline thread_local LogContext log_context;

// Sets the calling thread's topic for its lifetime and restores the one
// before (the strings must outlive it).
class TopicLogScope {
 public:
  explicit TopicLogScope(const std::string* topic) : before_(log_context.topic) { log_context.topic = topic; }
  ~TopicLogScope() { log_context.topic = before_; }
  TopicLogScope(const TopicLogScope&) = delete;
  TopicLogScope& operator=(const TopicLogScope&) = delete;

 private:
  const std::string* before_;
};

}  // namespace ferry
