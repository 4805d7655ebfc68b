#include "brokers/registry.h"

#include <charconv>
#include <mutex>

#include "brokers/mem/mem_broker.h"
#if FERRY_WITH_NATS
#include "brokers/nats/nats_broker.h"
#endif
#if FERRY_WITH_MQTT
#include "brokers/mqtt/mqtt_broker.h"
#endif
#if FERRY_WITH_REDIS
#include "brokers/redis/redis_broker.h"
#endif
#if FERRY_WITH_RABBITMQ
#include "brokers/rabbitmq/rabbitmq_broker.h"
#endif
#if FERRY_WITH_KAFKA
#include "brokers/kafka/kafka_broker.h"
#endif

namespace ferry {
namespace {

using Factory = Result<std::unique_ptr<Broker>> (*)(std::string_view url,
                                                    const std::map<std::string, std::string>&);

Result<std::unique_ptr<Broker>> MakeMem(std::string_view url,
                                        const std::map<std::string, std::string>& options) {
  MemOptions mem;
  for (const auto& [key, value] : options) {
    if (key == "queue_capacity") {
      std::uint32_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n == 0)
        return Error::InvalidArgument("queue_capacity: expected a positive integer, got '" + value + "'");
      mem.queue_capacity = n;
    } else {
      return Error::InvalidArgument("unknown option '" + key + "' for " + std::string(url));
    }
  }
  return MakeMemBroker(mem);
}

#if FERRY_WITH_NATS
Result<std::unique_ptr<Broker>> MakeNats(std::string_view url,
                                         const std::map<std::string, std::string>& options) {
  auto nats = NatsOptionsFrom(url, options);
  if (!nats.ok()) return nats.error();
  return MakeNatsBroker(*nats);
}
#endif

#if FERRY_WITH_MQTT
Result<std::unique_ptr<Broker>> MakeMqtt(std::string_view url,
                                         const std::map<std::string, std::string>& options) {
  auto mqtt = MqttOptionsFrom(url, options);
  if (!mqtt.ok()) return mqtt.error();
  return MakeMqttBroker(*mqtt);
}
#endif

#if FERRY_WITH_REDIS
Result<std::unique_ptr<Broker>> MakeRedis(std::string_view url,
                                          const std::map<std::string, std::string>& options) {
  auto redis = RedisOptionsFrom(url, options);
  if (!redis.ok()) return redis.error();
  return MakeRedisBroker(*redis);
}
#endif

#if FERRY_WITH_RABBITMQ
Result<std::unique_ptr<Broker>> MakeRabbitMq(std::string_view url,
                                             const std::map<std::string, std::string>& options) {
  auto amqp = RabbitMqOptionsFrom(url, options);
  if (!amqp.ok()) return amqp.error();
  return MakeRabbitMqBroker(*amqp);
}
#endif

#if FERRY_WITH_KAFKA
Result<std::unique_ptr<Broker>> MakeKafka(std::string_view url,
                                          const std::map<std::string, std::string>& options) {
  auto kafka = KafkaOptionsFrom(url, options);
  if (!kafka.ok()) return kafka.error();
  return MakeKafkaBroker(*kafka);
}
#endif

struct Scheme {
  std::string_view name;
  Factory make;
};

// One line per adapter.
constexpr Scheme kSchemes[] = {
    {"mem", MakeMem},
#if FERRY_WITH_NATS
    {"nats", MakeNats},
    {"tls", MakeNats},
#endif
#if FERRY_WITH_MQTT
    {"mqtt", MakeMqtt},
    {"mqtts", MakeMqtt},
#endif
#if FERRY_WITH_REDIS
    {"redis", MakeRedis},
    {"rediss", MakeRedis},
#endif
#if FERRY_WITH_RABBITMQ
    {"amqp", MakeRabbitMq},
    {"amqps", MakeRabbitMq},
#endif
#if FERRY_WITH_KAFKA
    {"kafka", MakeKafka},
#endif
};

// Schemes registered by tests (ScopedBrokerScheme).
struct ExtraSchemes {
  std::mutex mutex;
  std::map<std::string, BrokerFactory, std::less<>> factories;
};
ExtraSchemes& Extras() {
  static ExtraSchemes extras;
  return extras;
}

}  // namespace

Result<std::unique_ptr<ScopedBrokerScheme>> ScopedBrokerScheme::Create(std::string scheme,
                                                                       BrokerFactory make) {
  for (const Scheme& s : kSchemes)
    if (s.name == scheme) return Error::FailedPrecondition("broker scheme '" + scheme + "' is built in");
  ExtraSchemes& extras = Extras();
  std::lock_guard lock(extras.mutex);
  if (!extras.factories.emplace(scheme, std::move(make)).second)
    return Error::FailedPrecondition("broker scheme '" + scheme + "' is registered already");
  return std::unique_ptr<ScopedBrokerScheme>(new ScopedBrokerScheme(std::move(scheme)));
}

ScopedBrokerScheme::~ScopedBrokerScheme() {
  ExtraSchemes& extras = Extras();
  std::lock_guard lock(extras.mutex);
  extras.factories.erase(scheme_);
}

Result<std::unique_ptr<Broker>> MakeBroker(std::string_view url,
                                           const std::map<std::string, std::string>& options) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return Error::InvalidArgument("broker URL '" + std::string(url) +
                                  "' has no scheme (expected e.g. mem://)");
  const std::string_view scheme = url.substr(0, sep);
  std::string known;
  for (const Scheme& s : kSchemes) {
    if (s.name == scheme) return s.make(url, options);
    known += (known.empty() ? "" : ", ") + std::string(s.name);
  }
  BrokerFactory extra;
  {
    ExtraSchemes& extras = Extras();
    std::lock_guard lock(extras.mutex);
    if (auto it = extras.factories.find(scheme); it != extras.factories.end()) extra = it->second;
  }
  if (extra) return extra(url, options);
  return Error::InvalidArgument("unknown broker scheme '" + std::string(scheme) + "' in '" +
                                std::string(url) + "'; known: " + known);
}

}  // namespace ferry
