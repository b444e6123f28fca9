#include "common/kafka/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka/murmur2.h"
#include "common/log/log.h"
#include "spdlog/spdlog.h"

namespace crm::eventlog {
namespace {

constexpr size_t kMaxValueBytes = 1 << 20;

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", rd_kafka_err2str(err)));
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

absl::Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) !=
      RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka property ", name, "=", value, ": ", err));
  }
  return absl::OkStatus();
}

// librdkafka's own log lines (syslog levels) go to our JSON log instead of raw stderr.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const std::string line =
      absl::StrCat("kafka ", rd_kafka_name(rk), " ", facility, ": ", log::JsonEscape(message));
  if (level <= 3) {
    spdlog::error("{}", line);
  } else if (level <= 4) {
    spdlog::warn("{}", line);
  } else if (level <= 6) {
    spdlog::info("{}", line);
  } else {
    spdlog::debug("{}", line);
  }
}

absl::StatusOr<ConfPtr> MakeConf(const KafkaEventLogOptions& o,
                                 const std::vector<std::pair<std::string, std::string>>& props) {
  ConfPtr conf(rd_kafka_conf_new());
  std::vector<std::pair<std::string, std::string>> all = {
      {"bootstrap.servers", o.brokers},
      {"client.id", o.client_id},
  };
  all.insert(all.end(), props.begin(), props.end());
  all.insert(all.end(), o.extra_config.begin(), o.extra_config.end());
  for (const auto& [k, v] : all) {
    absl::Status s = Set(conf.get(), k, v);
    if (!s.ok()) return s;
  }
  rd_kafka_conf_set_log_cb(conf.get(), &LogToSpdlog);
  return conf;
}

// One Append in flight: counts down delivery reports.
struct Pending {
  absl::Mutex mu;
  int remaining ABSL_GUARDED_BY(mu) = 0;
  absl::Status status ABSL_GUARDED_BY(mu);
  LogPosition last ABSL_GUARDED_BY(mu);
  int32_t partition = -1;
};

std::vector<std::pair<std::string, std::string>> MessageHeaders(const rd_kafka_message_t* m) {
  std::vector<std::pair<std::string, std::string>> out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                     RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    out.emplace_back(name, value == nullptr ? "" : std::string(static_cast<const char*>(value), size));
  }
  return out;
}

class KafkaReader final : public LogReader {
 public:
  KafkaReader(rd_kafka_t* rk) : rk_(rk) {}
  ~KafkaReader() override {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records, absl::Time deadline) override {
    std::vector<LogRecord> out;
    while (out.size() < max_records) {
      if (closed_.load()) return absl::CancelledError("reader closed");
      const absl::Duration left = deadline - absl::Now();
      // Once something is here, take only what is already buffered.
      int timeout_ms = out.empty() ? static_cast<int>(std::clamp<int64_t>(
                                         absl::ToInt64Milliseconds(left), 0, 100))
                                   : 0;
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, timeout_ms);
      if (m == nullptr) {
        if (!out.empty() || absl::Now() >= deadline) break;
        continue;
      }
      if (m->err) {
        const rd_kafka_resp_err_t err = m->err;
        rd_kafka_message_destroy(m);
        if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        // Transport errors are retried by librdkafka itself; report them only when we have
        // nothing else to return.
        if (out.empty()) return KafkaError(err, "consume");
        break;
      }
      LogRecord r;
      r.position = {m->partition, m->offset};
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.headers = MessageHeaders(m);
      rd_kafka_message_destroy(m);
      out.push_back(std::move(r));
    }
    return out;
  }

  void Close() override { closed_.store(true); }

 private:
  rd_kafka_t* const rk_;
  std::atomic<bool> closed_{false};
};

}  // namespace

struct KafkaEventLog::Impl {
  KafkaEventLogOptions options;
  rd_kafka_t* producer = nullptr;
  int32_t partitions = 0;
  std::atomic<bool> stopping{false};
  std::thread poller;

  absl::Mutex mu;
  std::map<int32_t, int> unresolved ABSL_GUARDED_BY(mu);  // partition -> appends in flight

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* impl = static_cast<Impl*>(opaque);
    auto* holder = static_cast<std::shared_ptr<Pending>*>(m->_private);
    std::shared_ptr<Pending> pending = std::move(*holder);
    delete holder;
    bool done = false;
    {
      absl::MutexLock lock(&pending->mu);
      if (m->err) {
        pending->status = KafkaError(m->err, "delivery");
      } else if (m->offset >= pending->last.offset) {
        pending->last = {m->partition, m->offset};
      }
      done = --pending->remaining == 0;
    }
    if (done) {
      absl::MutexLock lock(&impl->mu);
      if (--impl->unresolved[pending->partition] == 0) impl->unresolved.erase(pending->partition);
    }
  }

  ~Impl() {
    stopping.store(true);
    if (poller.joinable()) poller.join();
    if (producer != nullptr) {
      rd_kafka_flush(producer, 10'000);
      rd_kafka_destroy(producer);
    }
  }
};

KafkaEventLog::KafkaEventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaEventLog::~KafkaEventLog() = default;

absl::StatusOr<std::unique_ptr<KafkaEventLog>> KafkaEventLog::Open(
    const KafkaEventLogOptions& options, absl::Duration timeout) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("Kafka brokers are not set");
  if (options.topic.empty()) return absl::InvalidArgumentError("Kafka topic is not set");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto conf = MakeConf(options, {
                                    {"enable.idempotence", "true"},
                                    {"acks", "all"},
                                    {"partitioner", "murmur2_random"},
                                    {"linger.ms", "5"},
                                    {"batch.num.messages", "10000"},
                                    {"compression.type", "lz4"},
                                    {"message.timeout.ms", absl::StrCat(absl::ToInt64Milliseconds(
                                                               options.delivery_timeout))},
                                });
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
  rd_kafka_conf_set_opaque(conf->get(), impl.get());
  char err[512];
  impl->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof(err));
  if (impl->producer == nullptr) return absl::InvalidArgumentError(err);

  // Create the topic if absent. TOPIC_ALREADY_EXISTS is success.
  {
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
        options.topic.c_str(), options.partitions, options.replication_factor, err, sizeof(err));
    if (topic == nullptr) return absl::InvalidArgumentError(err);
    rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "delete");
    const std::string retention = absl::StrCat(options.retention_ms);
    rd_kafka_NewTopic_set_config(topic, "retention.ms", retention.c_str());
    rd_kafka_NewTopic_set_config(topic, "retention.bytes", "-1");
    rd_kafka_queue_t* queue = rd_kafka_queue_new(impl->producer);
    rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(impl->producer,
                                                               RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(admin, absl::ToInt64Milliseconds(timeout), err,
                                              sizeof(err));
    rd_kafka_CreateTopics(impl->producer, &topic, 1, admin, queue);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, absl::ToInt64Milliseconds(timeout) + 1000);
    absl::Status created = absl::UnavailableError("no answer to CreateTopics");
    if (ev != nullptr) {
      const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
      if (rd_kafka_event_error(ev)) {
        created = KafkaError(rd_kafka_event_error(ev), "create topic " + options.topic);
      } else if (res != nullptr) {
        size_t n = 0;
        const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
        created = absl::OkStatus();
        for (size_t i = 0; i < n; ++i) {
          rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
          if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            created = KafkaError(e, "create topic " + options.topic);
          }
        }
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(admin);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(topic);
    if (!created.ok()) return created;
  }

  // Partition count from metadata (the topic may pre-exist with another count).
  {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(impl->producer, options.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    absl::Time until = absl::Now() + timeout;
    absl::Status got = absl::UnavailableError("no metadata for topic " + options.topic);
    while (absl::Now() < until) {
      rd_kafka_resp_err_t e = rd_kafka_metadata(impl->producer, 0, rkt, &md,
                                                static_cast<int>(absl::ToInt64Milliseconds(
                                                    until - absl::Now())));
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
          md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0) {
        impl->partitions = md->topics[0].partition_cnt;
        got = absl::OkStatus();
      } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        got = KafkaError(e, "metadata for topic " + options.topic);
      }
      if (md != nullptr) rd_kafka_metadata_destroy(md);
      md = nullptr;
      if (got.ok()) break;
      absl::SleepFor(absl::Milliseconds(100));  // metadata propagation after create
    }
    rd_kafka_topic_destroy(rkt);
    if (!got.ok()) return got;
  }

  Impl* raw = impl.get();
  impl->poller = std::thread([raw] {
    while (!raw->stopping.load()) rd_kafka_poll(raw->producer, 100);
  });
  return std::unique_ptr<KafkaEventLog>(new KafkaEventLog(std::move(impl)));
}

int32_t KafkaEventLog::PartitionCount() const { return impl_->partitions; }

int32_t KafkaEventLog::PartitionOf(absl::string_view key) const {
  return Murmur2Partition(key, impl_->partitions);
}

absl::StatusOr<LogPosition> KafkaEventLog::Append(absl::string_view key,
                                                  std::vector<AppendValue> values,
                                                  absl::Time deadline) {
  if (values.empty()) return absl::InvalidArgumentError("nothing to append");
  for (const auto& v : values) {
    if (v.value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("record of ", v.value.size(), " bytes exceeds ", kMaxValueBytes));
    }
  }
  const int32_t partition = PartitionOf(key);
  auto pending = std::make_shared<Pending>();
  pending->partition = partition;
  {
    absl::MutexLock lock(&pending->mu);
    pending->remaining = static_cast<int>(values.size());
  }
  {
    absl::MutexLock lock(&impl_->mu);
    ++impl_->unresolved[partition];
  }
  int produced = 0;
  for (auto& v : values) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(v.headers.size());
    for (const auto& [name, value] : v.headers) {
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    auto* holder = new std::shared_ptr<Pending>(pending);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        impl_->producer, RD_KAFKA_V_TOPIC(impl_->options.topic.c_str()),
        RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(v.value.data(), v.value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(holder), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(hdrs);
      delete holder;
      // Records already produced still report; account for the ones that never will.
      bool done = false;
      {
        absl::MutexLock lock(&pending->mu);
        pending->status = KafkaError(e, "produce");
        pending->remaining -= static_cast<int>(values.size()) - produced;
        done = pending->remaining == 0;
      }
      if (done) {
        absl::MutexLock lock(&impl_->mu);
        if (--impl_->unresolved[partition] == 0) impl_->unresolved.erase(partition);
      }
      break;
    }
    ++produced;
  }

  absl::MutexLock lock(&pending->mu);
  pending->mu.AwaitWithDeadline(
      absl::Condition(
          +[](Pending* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu) { return p->remaining == 0; },
          pending.get()),
      deadline);
  if (pending->remaining > 0) {
    return absl::UnavailableError(
        "Kafka has not acknowledged the events before the deadline; they may still be "
        "recorded (retry with the same request_id)");
  }
  if (!pending->status.ok()) return pending->status;
  return pending->last;
}

absl::Status KafkaEventLog::Settle(absl::string_view key, absl::Time deadline) {
  const int32_t partition = PartitionOf(key);
  absl::MutexLock lock(&impl_->mu);
  struct Arg {
    Impl* impl;
    int32_t partition;
  } arg{impl_.get(), partition};
  bool settled = impl_->mu.AwaitWithDeadline(
      absl::Condition(
          +[](Arg* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(a->impl->mu) {
            return a->impl->unresolved.count(a->partition) == 0;
          },
          &arg),
      deadline);
  return settled ? absl::OkStatus()
                 : absl::DeadlineExceededError("appends to the partition are still in flight");
}

absl::StatusOr<std::unique_ptr<LogReader>> KafkaEventLog::NewReader(
    const std::map<int32_t, int64_t>& start) {
  auto conf = MakeConf(impl_->options, {
                                           {"group.id", impl_->options.group_id},
                                           {"enable.auto.commit", "false"},
                                           {"enable.auto.offset.store", "false"},
                                           {"isolation.level", "read_committed"},
                                           {"auto.offset.reset", "earliest"},
                                           {"enable.partition.eof", "false"},
                                       });
  if (!conf.ok()) return conf.status();
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof(err));
  if (rk == nullptr) return absl::InvalidArgumentError(err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(start.size()));
  for (const auto& [partition, offset] : start) {
    rd_kafka_topic_partition_list_add(list, impl_->options.topic.c_str(), partition)->offset =
        offset;
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk);
    return KafkaError(e, "assign");
  }
  return std::unique_ptr<LogReader>(new KafkaReader(rk));
}

absl::StatusOr<int64_t> KafkaEventLog::EndOffset(int32_t partition) {
  int64_t low = 0, high = 0;
  rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
      impl_->producer, impl_->options.topic.c_str(), partition, &low, &high, 5000);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(e, "watermark offsets");
  return high;
}

}  // namespace crm::eventlog
