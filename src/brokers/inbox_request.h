// Request-reply for brokers without a native form of it: subscribe to a
// private inbox, publish with reply_to set to it, collect replies.
#pragma once

#include <vector>

#include "brokers/broker.h"

namespace ferry {

Result<std::vector<Message>> RequestViaInbox(Broker& broker, const Message& message,
                                             const RequestOptions& options);

}  // namespace ferry
