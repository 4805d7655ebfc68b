#include "kafka_echo.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace ferry::bench {
namespace {

// What the delivery report needs to settle the record it echoes.
struct Origin {
  std::int32_t partition;
  std::int64_t offset;
};

class Echo final : public KafkaNativeEcho {
 public:
  explicit Echo(const std::string& bootstrap) {
    char err[512];
    rd_kafka_conf_t* pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(pc, "acks", "all", err, sizeof err);
    rd_kafka_conf_set(pc, "linger.ms", "1", err, sizeof err);
    rd_kafka_conf_set_opaque(pc, this);
    rd_kafka_conf_set_dr_msg_cb(pc, [](rd_kafka_t*, const rd_kafka_message_t* m, void* self) {
      auto* origin = static_cast<Origin*>(m->_private);
      static_cast<Echo*>(self)->Settle(*origin, m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
      delete origin;
    });
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    rd_kafka_conf_t* cc = rd_kafka_conf_new();
    rd_kafka_conf_set(cc, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(cc, "group.id", "native-echo", err, sizeof err);
    rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(cc, "fetch.wait.max.ms", "10", err, sizeof err);
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    rd_kafka_poll_set_consumer(consumer_);
    // Every partition of echo.in from its current end.
    // (The producer's metadata request creates the topic if need be.)
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer_, "echo.in", nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (md) rd_kafka_metadata_destroy(md);
      md = nullptr;
      if (rd_kafka_metadata(producer_, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topics[0].partition_cnt > 0)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; md && md->topic_cnt == 1 && i < md->topics[0].partition_cnt; ++i) {
      std::int64_t low = 0, high = 0;
      rd_kafka_query_watermark_offsets(consumer_, "echo.in", i, &low, &high, 10000);
      rd_kafka_topic_partition_list_add(parts, "echo.in", i)->offset = high;
      next_[i] = high;
    }
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_assign(consumer_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    thread_ = std::thread([this] { Run(); });
  }
  ~Echo() override {
    stop_ = true;
    thread_.join();
    rd_kafka_flush(producer_, 5000);
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
    rd_kafka_destroy(producer_);
  }

 private:
  void Settle(const Origin& o, bool ok) {
    if (!ok) std::fprintf(stderr, "native kafka echo: a publish failed\n");
    std::lock_guard lock(mutex_);
    pending_[o.partition].erase(o.offset);
  }

  void Commit() {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
    {
      std::lock_guard lock(mutex_);
      for (auto& [partition, next] : next_) {
        const auto& p = pending_[partition];
        const std::int64_t point = p.empty() ? next : *p.begin();
        if (point > committed_[partition]) {
          rd_kafka_topic_partition_list_add(list, "echo.in", partition)->offset = point;
          committed_[partition] = point;
        }
      }
    }
    if (list->cnt > 0) rd_kafka_commit(consumer_, list, 1);
    rd_kafka_topic_partition_list_destroy(list);
  }

  void Run() {
    auto last_commit = std::chrono::steady_clock::now();
    while (!stop_) {
      rd_kafka_poll(producer_, 0);
      if (std::chrono::steady_clock::now() - last_commit > std::chrono::milliseconds(100)) {
        Commit();
        last_commit = std::chrono::steady_clock::now();
      }
      rd_kafka_message_t* in = rd_kafka_consumer_poll(consumer_, 5);
      if (!in) continue;
      if (in->err) {
        rd_kafka_message_destroy(in);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        pending_[in->partition].insert(in->offset);
        next_[in->partition] = in->offset + 1;
      }
      rd_kafka_headers_t* headers = nullptr;
      rd_kafka_headers_t* copy = nullptr;
      if (rd_kafka_message_headers(in, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR)
        copy = rd_kafka_headers_copy(headers);
      auto* origin = new Origin{in->partition, in->offset};
      while (rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC("echo.out"),
                               RD_KAFKA_V_VALUE(in->payload, in->len),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_HEADERS(copy), RD_KAFKA_V_OPAQUE(origin),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer_, 10);
      rd_kafka_message_destroy(in);
    }
  }

  rd_kafka_t* producer_ = nullptr;
  rd_kafka_t* consumer_ = nullptr;
  std::mutex mutex_;
  std::map<std::int32_t, std::set<std::int64_t>> pending_;  // echoed, not yet acknowledged
  std::map<std::int32_t, std::int64_t> next_, committed_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<KafkaNativeEcho> MakeKafkaNativeEcho(const std::string& bootstrap) {
  return std::make_unique<Echo>(bootstrap);
}

}  // namespace ferry::bench
