// Talking to a running `ferry run` through its local control socket: publish,
// request and subscribe on any broker it has configured. This is how
// `ferry publish` reaches the embedded broker, which lives inside that process.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry {

Status ControlPublish(const std::filesystem::path& socket, std::string_view broker,
                      const Message& message);

Result<std::vector<Message>> ControlRequest(const std::filesystem::path& socket,
                                            std::string_view broker, const Message& message,
                                            std::chrono::milliseconds timeout,
                                            std::uint32_t expected_replies);

// Calls `on_message` for each message on `pattern` until `count` arrived (0:
// no limit), `on_message` returns false, or the host stops. Once the
// subscription is in place, `on_ready` runs (if given).
Status ControlSubscribe(const std::filesystem::path& socket, std::string_view broker,
                        std::string_view pattern, std::uint32_t count,
                        const std::function<bool(const Message&)>& on_message,
                        const std::function<void()>& on_ready = {});

}  // namespace ferry
