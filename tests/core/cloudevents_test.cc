// The CloudEvents binding names: ce- metadata keys to and from each
// broker's wire names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/cloudevents.h"

namespace ferry {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

const Metadata kEvent{{"ce-specversion", "1.0"}, {"ce-id", "e1"}, {"ce-myext", "x"}, {"other", "y"}};

TEST(CloudEvents, KafkaUsesCeUnderscoreHeaders) {
  Metadata storage;
  const Metadata& wire = CloudEventsToWire(kEvent, CloudEventsBinding::kKafka, storage);
  EXPECT_THAT(wire.entries(), ElementsAre(Pair("ce_specversion", "1.0"), Pair("ce_id", "e1"), Pair("ce_myext", "x"),
                                          Pair("other", "y")));
  Metadata back = wire;
  CloudEventsFromWire(back, CloudEventsBinding::kKafka);
  EXPECT_EQ(back, kEvent);
}

TEST(CloudEvents, AmqpUsesCloudEventsColonAndReadsTheUnderscoreForm) {
  Metadata storage;
  const Metadata& wire = CloudEventsToWire(kEvent, CloudEventsBinding::kAmqp, storage);
  EXPECT_EQ(wire.Get("cloudEvents:id"), "e1");
  Metadata jms{{"cloudEvents_id", "e2"}, {"cloudEvents_specversion", "1.0"}};
  CloudEventsFromWire(jms, CloudEventsBinding::kAmqp);
  EXPECT_THAT(jms.entries(), ElementsAre(Pair("ce-id", "e2"), Pair("ce-specversion", "1.0")));
}

TEST(CloudEvents, MqttRenamesOnlyTheDefinedAttributesOfAnEvent) {
  Metadata storage;
  const Metadata& wire = CloudEventsToWire(kEvent, CloudEventsBinding::kMqtt, storage);
  EXPECT_THAT(wire.entries(), ElementsAre(Pair("specversion", "1.0"), Pair("id", "e1"), Pair("ce-myext", "x"),
                                          Pair("other", "y")));
  // Without specversion it is not an event: "id" stays "id".
  Metadata plain{{"id", "42"}};
  CloudEventsFromWire(plain, CloudEventsBinding::kMqtt);
  EXPECT_THAT(plain.entries(), ElementsAre(Pair("id", "42")));
  Metadata event{{"specversion", "1.0"}, {"id", "42"}, {"colour", "red"}};
  CloudEventsFromWire(event, CloudEventsBinding::kMqtt);
  EXPECT_THAT(event.entries(), ElementsAre(Pair("ce-specversion", "1.0"), Pair("ce-id", "42"), Pair("colour", "red")));
}

TEST(CloudEvents, MetadataWithoutCeKeysIsNotCopied) {
  const Metadata plain{{"k", "v"}};
  Metadata storage;
  EXPECT_EQ(&CloudEventsToWire(plain, CloudEventsBinding::kKafka, storage), &plain);
}

TEST(CloudEvents, IdsAndTimesHaveTheirForms) {
  EXPECT_THAT(NewCloudEventId(), ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(NewCloudEventId(), NewCloudEventId());
  EXPECT_THAT(CloudEventTime(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
}

}  // namespace
}  // namespace ferry
