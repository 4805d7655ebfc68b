// A broker of the embedding program's own, behind Ferry's public Broker
// interface (ferry/broker.h): an in-process topic bus with one delivery
// thread. A real program would put its own transport here.
#pragma once

#include <memory>

#include "ferry/broker.h"

namespace embed {

// Registers the URL scheme "inproc" with Ferry while the returned object
// lives; a configuration then names the broker as "inproc://".
ferry::Result<std::unique_ptr<ferry::ScopedBrokerScheme>> RegisterInprocBroker();

}  // namespace embed
