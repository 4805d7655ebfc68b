// Topic and pattern handling: validation, matching, containment and the
// MQTT and Redis mappings. Input: "<pattern>\n<topic>".
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/topic.h"
#if FERRY_WITH_MQTT
#include "brokers/mqtt/mqtt_topics.h"
#endif
#if FERRY_WITH_REDIS
#include "brokers/redis/redis_wire.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string_view pattern = input.substr(0, nl);
  const std::string_view topic = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  const bool pattern_ok = ferry::ValidatePattern(pattern).ok();
  const bool topic_ok = ferry::ValidateTopic(topic).ok();
  if (!pattern_ok || !topic_ok) return 0;
  const bool matches = ferry::TopicMatches(pattern, topic);
  // A pattern that covers a topic (as a one-topic pattern) must match it.
  if (ferry::PatternCovers(pattern, topic) != matches) std::abort();
  if (!ferry::PatternCovers(pattern, pattern)) std::abort();
  if (!ferry::PatternCovers(">", pattern)) std::abort();
#if FERRY_WITH_MQTT
  // Several Ferry spellings may name one MQTT topic (a byte written raw or
  // as %XX); the Ferry form an MQTT topic is given must lead back to it.
  auto mqtt = ferry::mqtt::ToMqttTopic(topic);
  if (mqtt.ok()) {
    const std::string ferry_form = ferry::mqtt::FromMqttTopic(*mqtt);
    // Escapes lengthen a topic; past Ferry's 1024 bytes it has no Ferry form.
    if (ferry_form.size() <= 1024) {
      auto back = ferry::mqtt::ToMqttTopic(ferry_form);
      if (!back.ok() || *back != *mqtt) std::abort();
      // A reply address gives back the response topic and correlation data.
      auto dest = ferry::mqtt::ParseDestination(ferry::mqtt::ReplyAddress(*mqtt, pattern));
      if (!dest.ok() || dest->topic != *mqtt || dest->correlation != pattern) std::abort();
    }
  }
  // The topic read as an MQTT topic name: its Ferry form maps back to it
  // exactly.
  if (topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos &&
      !topic.starts_with('$')) {
    const std::string ferry_form = ferry::mqtt::FromMqttTopic(topic);
    if (ferry_form.size() <= 1024) {
      auto again = ferry::mqtt::ToMqttTopic(ferry_form);
      if (!again.ok() || *again != topic) std::abort();
    }
  }
  (void)ferry::mqtt::ToMqttFilter(pattern);
#endif
#if FERRY_WITH_REDIS
  (void)ferry::redis::ToGlob(pattern);
#endif
  return 0;
}
