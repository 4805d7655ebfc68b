// Captures what Ferry logs while it lives, for tests that assert on the log
// (guest output, warnings). Raises the log level to info meanwhile; a Host
// created afterwards applies its own [host].log_level over it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace ferry::testing {

class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> Lines() const;
  // Waits (generously) until a line containing `text` was logged.
  bool WaitFor(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(10)) const;
  std::size_t Count(const std::string& text) const;

  struct Sink;

 private:
  std::shared_ptr<Sink> sink_;
  int previous_level_;
};

}  // namespace ferry::testing
