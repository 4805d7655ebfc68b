#include "brokers/broker.h"

namespace ferry {

std::string_view ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kDisconnected: return "disconnected";
    case ConnectionState::kConnecting: return "connecting";
    case ConnectionState::kConnected: return "connected";
    case ConnectionState::kReconnecting: return "reconnecting";
    case ConnectionState::kClosed: return "closed";
  }
  return "unknown";
}

}  // namespace ferry
