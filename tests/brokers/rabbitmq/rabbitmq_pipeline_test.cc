// Pipelined sends on RabbitMQ against a real node: a guest's publishes go
// out in the confirm window and return at once; one the broker nacks
// afterwards (a queue at its length limit with overflow reject-publish)
// fails the delivery that sent it, which is tried again and given up,
// never acked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "brokers/conformance.h"
#include "brokers/registry.h"
#include "support/host_fixture.h"
#include "support/send_refused.h"
#include "support/rabbitmq_server.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

TEST(RabbitMqPipeline, APublishTheBrokerNacksFailsTheDeliveryAfterTheSendReturned) {
  RabbitMqServer& server = SharedRabbitMq();
  const std::string tag = std::to_string(::getpid());
  const std::string full_topic = "rfull" + tag, in_topic = "rpin" + tag;
  // A durable queue bound to the topic, made by a queue-group subscription
  // that then goes away: "ferry.<group>.<topic>" stays, with nobody reading.
  const std::string queue = "ferry.cap" + tag + "." + full_topic;
  auto broker = MakeBroker(server.Url(), {});
  ASSERT_OK(broker);
  ASSERT_OK((*broker)->Connect());
  {
    auto sub = (*broker)->Subscribe({.pattern = full_topic, .queue_group = "cap" + tag}, [](Delivery) {});
    ASSERT_OK(sub);
  }
  ASSERT_OK(server.Ctl("set_policy cap" + tag + " '^" + queue +
                      "$' '{\"max-length\":1,\"overflow\":\"reject-publish\"}' --apply-to queues"));
  bool capped = false;
  for (int i = 0; i < 80 && !capped; ++i) {
    auto queues = server.Ctl("list_queues -q name policy");
    capped = queues.ok() && queues->find(queue + "\tcap" + tag) != std::string::npos;
    if (!capped) std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(capped) << "the policy never reached " << queue;
  ASSERT_OK((*broker)->Publish(TestMessage(full_topic, "fills it"), Clock::now() + 10s));

  ExpectARefusedSendFailsItsDelivery(server.Url(), in_topic, full_topic, "nacked");
  auto depth = server.Ctl("list_queues -q name messages");
  ASSERT_OK(depth);
  EXPECT_THAT(*depth, ::testing::HasSubstr(queue + "\t1")) << "only the first message is in the capped queue";

  (void)server.Ctl("clear_policy cap" + tag);
  (void)server.Ctl("delete_queue " + queue);
}

}  // namespace
}  // namespace ferry::testing
