// The two-component chain the trace-context tests follow a message through:
// echo.in → echo → echo.out → transformer → transform.out, on the embedded
// broker. `host` is the body of the [host] table; `more` is appended (more
// components, say).
#pragma once

#include <string>

namespace ferry::testing {

inline std::string TraceChainConfig(const std::string& host, const std::string& more = "") {
  return "[host]\n" + host + R"(
[brokers]
default = "mem://"

[[component]]
name = "echo"
path = "$COMPONENTS/echo.wasm"
subscribe = ["echo.in"]

[[component]]
name = "transformer"
path = "$COMPONENTS/transformer.wasm"
subscribe = ["echo.out"]
)" + more;
}

}  // namespace ferry::testing
