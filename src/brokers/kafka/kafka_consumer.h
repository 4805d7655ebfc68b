// One Ferry subscription on Kafka: a consumer handle in a consumer group
// (the queue group, or a group of its own), its poll thread, and the
// per-partition bookkeeping that makes delivery at least once.
//
// Offsets: a record's offset is committed only when it and every earlier
// record of its partition are settled (ack, term, or nack-then-ack). A
// nacked record is held by the adapter and delivered again after the delay;
// its offset stays uncommitted meanwhile, so a crash redelivers it.
// Partitions: the first time a group sees a partition it starts at the
// first record published at or after the subscription began (by record
// timestamp) and commits that, so members joining later never skip or
// replay records. On a rebalance the revoked partitions' deliveries in hand
// are waited for (KafkaOptions::revoke_wait), their progress committed, and
// what is not settled by then goes to the new owner.
#pragma once

#include <memory>

#include "brokers/kafka/kafka_client.h"

namespace ferry::kafka {

struct ConsumerEnv {
  KafkaOptions options;
  std::string display;  // for log lines
};

// Subscribes and returns once the group has handed this member its first
// assignment (or after the connect timeout, with a warning), so what is
// published afterwards reaches it.
Result<std::unique_ptr<Subscription>> MakeKafkaSubscription(const ConsumerEnv& env,
                                                            SubscribeOptions options,
                                                            DeliveryHandler handler);

}  // namespace ferry::kafka
