#include "common/kafka/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/status_macros.h"
#include "common/eventlog/write_metrics.h"
#include "common/kafka/murmur2.h"
#include "common/log/log.h"
#include "spdlog/spdlog.h"

namespace crm::eventlog {
namespace {

constexpr size_t kMaxValueBytes = 1 << 20;

// What Append refuses before anything is sent.
absl::Status CheckValues(const std::vector<AppendValue>& values) {
  if (values.empty()) return absl::InvalidArgumentError("nothing to append");
  for (const auto& v : values) {
    if (v.value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("record of ", v.value.size(), " bytes exceeds ", kMaxValueBytes));
    }
  }
  return absl::OkStatus();
}

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", rd_kafka_err2str(err)));
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

absl::Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka property ", name, "=", value, ": ", err));
  }
  return absl::OkStatus();
}

// librdkafka's own log lines (syslog levels) go to our JSON log instead of raw stderr.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const std::string line = absl::StrCat("kafka ", rd_kafka_name(rk), " ", facility, ": ", message);
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
      // After a connection drops, librdkafka waits before it reconnects, doubling the wait up to
      // this (default 10 s, the Java client's is 1 s): commands kept failing for up to 10 s after
      // the network was back (tests/process/test_kafka_netfaults.py, drops).
      {"reconnect.backoff.max.ms", "1000"},
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

}  // namespace

// One Append in flight: counts down delivery reports.
struct Pending {
  absl::Mutex mu;
  int remaining ABSL_GUARDED_BY(mu) = 0;
  absl::Status status ABSL_GUARDED_BY(mu);
  LogPosition last ABSL_GUARDED_BY(mu);
  std::vector<int64_t> offsets ABSL_GUARDED_BY(mu);  // of the delivered records, as reported
  int32_t partition = -1;
  // AppendAsync without transactions: set with the outcome once the last report is in.
  std::optional<base::Promise<LogPosition>> promise ABSL_GUARDED_BY(mu);
};

// Called once `pending` has no report outstanding: completes its promise, if any, with the
// outcome. REQUIRES: pending.mu not held.
void Complete(Pending& pending) {
  std::optional<base::Promise<LogPosition>> promise;
  absl::StatusOr<LogPosition> outcome;
  {
    absl::MutexLock lock(&pending.mu);
    if (!pending.promise.has_value()) return;
    promise = std::move(pending.promise);
    pending.promise.reset();
    outcome = pending.status.ok() ? absl::StatusOr<LogPosition>(pending.last)
                                  : absl::StatusOr<LogPosition>(pending.status);
  }
  promise->Set(std::move(outcome));
}

namespace {

// Produces one record of an Append; its delivery report counts down `pending`.
rd_kafka_resp_err_t ProduceOne(rd_kafka_t* producer, const std::string& topic, int32_t partition,
                               absl::string_view key, const AppendValue& v,
                               const std::shared_ptr<Pending>& pending) {
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(v.headers.size());
  for (const auto& [name, value] : v.headers) {
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  auto* holder = new std::shared_ptr<Pending>(pending);
  rd_kafka_resp_err_t e =
      rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(v.value.data()), v.value.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                        RD_KAFKA_V_OPAQUE(holder), RD_KAFKA_V_END);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not queued: nothing took ownership.
    rd_kafka_headers_destroy(hdrs);
    delete holder;
  }
  return e;
}

std::vector<std::pair<std::string, std::string>> MessageHeaders(const rd_kafka_message_t* m) {
  std::vector<std::pair<std::string, std::string>> out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    out.emplace_back(name,
                     value == nullptr ? "" : std::string(static_cast<const char*>(value), size));
  }
  return out;
}

class KafkaReader final : public LogReader {
 public:
  // Takes ownership of both.
  KafkaReader(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* assigned)
      : rk_(rk), assigned_(assigned) {}
  ~KafkaReader() override {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
    rd_kafka_topic_partition_list_destroy(assigned_);
  }

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records, absl::Time deadline) override {
    std::vector<LogRecord> out;
    while (out.size() < max_records) {
      if (closed_.load()) return absl::CancelledError("reader closed");
      const absl::Duration left = deadline - absl::Now();
      // Once something is here, take only what is already buffered.
      int timeout_ms =
          out.empty()
              ? static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(left), 0, 100))
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
      r.topic = rd_kafka_topic_name(m->rkt);
      rd_kafka_message_destroy(m);
      out.push_back(std::move(r));
    }
    return out;
  }

  void Close() override { closed_.store(true); }

  // The consumer's application position (next offset to hand out) moves past transaction
  // markers and aborted records as the application polls, never past a record not yet returned.
  std::map<int32_t, int64_t> PassedOffsets() const override {
    std::map<int32_t, int64_t> out;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_copy(assigned_);
    if (rd_kafka_position(rk_, list) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < list->cnt; ++i) {
        if (list->elems[i].offset > 0) out[list->elems[i].partition] = list->elems[i].offset - 1;
      }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return out;
  }

 private:
  rd_kafka_t* const rk_;
  rd_kafka_topic_partition_list_t* const assigned_;
  std::atomic<bool> closed_{false};
};

}  // namespace

// One Append waiting for its writer's next transaction (group commit).
struct QueuedAppend {
  int32_t partition = 0;
  std::string key;
  std::vector<AppendValue> values;
  absl::Time deadline;
  base::Promise<LogPosition> promise;
};

// One owned writer: a transactional producer for a fixed set of partitions. Transactions on it
// are serialized by mu.
struct TxnWriter {
  int32_t index = 0;  // the writer's number; its partitions p have p % writers == index
  rd_kafka_t* producer = nullptr;
  // Appends waiting for a transaction, in arrival order. The writer's thread takes every append
  // queued (up to a bound) into one transaction and answers them all: leveldb's group commit,
  // per writer, with nobody else's thread waiting.
  absl::Mutex queue_mu;
  std::deque<std::unique_ptr<QueuedAppend>> queue ABSL_GUARDED_BY(queue_mu);
  bool stopping ABSL_GUARDED_BY(queue_mu) = false;
  std::thread thread;
  absl::Mutex mu;
  bool fenced ABSL_GUARDED_BY(mu) = false;  // another process took the writer
  bool broken ABSL_GUARDED_BY(mu) = false;  // a fatal producer error: start a new producer
  // A commit or abort that failed without a final answer (e.g. timed out while the broker was
  // away). librdkafka lets only that same call be resumed, so it is remembered here.
  enum class Unfinished { kNone, kCommit, kAbort };
  Unfinished unfinished ABSL_GUARDED_BY(mu) = Unfinished::kNone;
  // partition -> offset of the last record this producer committed there, while known (cleared
  // by any failure): the `after` of EventLog::CommitListener.
  std::map<int32_t, int64_t> last_committed ABSL_GUARDED_BY(mu);
  ~TxnWriter() {
    if (producer != nullptr) rd_kafka_destroy(producer);
  }
};

absl::Status TxnError(rd_kafka_error_t* error, absl::string_view what) {
  absl::Status s = absl::UnavailableError(absl::StrCat(what, ": ", rd_kafka_error_string(error)));
  rd_kafka_error_destroy(error);
  return s;
}

bool IsFenced(const rd_kafka_error_t* error) {
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

// Records what a transactional error means for the writer: fenced for good, or a producer that a
// fatal error made unusable (replaced on the next use).
void NoteFailure(TxnWriter& w, const rd_kafka_error_t* error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu) {
  if (IsFenced(error)) {
    w.fenced = true;
  } else if (rd_kafka_error_is_fatal(error)) {
    w.broken = true;
  }
}

int TimeoutMs(absl::Time deadline) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(deadline - absl::Now()), 1, 600'000));
}

struct KafkaEventLog::Impl {
  KafkaEventLogOptions options;
  rd_kafka_t* producer = nullptr;
  // A consumer handle that reads nothing: it only asks for high watermarks with
  // isolation.level=read_uncommitted, which count records of transactions whose markers are not
  // written yet (the producer's own queries see the last stable offset).
  rd_kafka_t* uncommitted = nullptr;
  // Transactional mode only: the owned writers, and the owned partitions' writers.
  std::map<int32_t, std::unique_ptr<TxnWriter>> writers;
  std::map<int32_t, TxnWriter*> writer_of;
  absl::Mutex listener_mu;  // held (shared) while the listener runs, so replacing it waits
  EventLog::CommitListener commit_listener ABSL_GUARDED_BY(listener_mu);
  int32_t partitions = 0;
  int32_t writer_count = 0;  // partitions are divided among this many writers (all replicas')
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
      } else {
        pending->offsets.push_back(m->offset);
        if (m->offset >= pending->last.offset) pending->last = {m->partition, m->offset};
      }
      done = --pending->remaining == 0;
    }
    if (done) {
      {
        absl::MutexLock lock(&impl->mu);
        if (--impl->unresolved[pending->partition] == 0) {
          impl->unresolved.erase(pending->partition);
        }
      }
      Complete(*pending);
    }
  }

  // Creates the writer's transactional producer and runs init_transactions, which fences every
  // earlier producer with the same transactional id and aborts its open transaction.
  absl::Status StartWriter(TxnWriter& w, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu) {
    if (w.producer != nullptr) rd_kafka_destroy(w.producer);
    w.producer = nullptr;
    const std::string txn_id =
        writer_count == partitions
            ? absl::StrCat(options.transactional_id_prefix, ".p", w.index)
            : absl::StrCat(options.transactional_id_prefix, ".w", w.index, "-of-", writer_count);
    auto conf = MakeConf(
        options,
        {
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"transactional.id", txn_id},
            {"linger.ms", "0"},  // appends are grouped here (group commit); nothing to wait for
            // Kafka answers CONCURRENT_TRANSACTIONS to a transaction begun right after
            // the previous commit; librdkafka retries after retry.backoff.ms (100 ms by
            // default), which would cap a partition at a few transactions a second.
            {"retry.backoff.ms", "5"},
            {"compression.type", "lz4"},
            // Must cover message.timeout.ms.
            {"transaction.timeout.ms",
             absl::StrCat(std::max<int64_t>(
                 60000, absl::ToInt64Milliseconds(options.delivery_timeout) + 10000))},
            {"message.timeout.ms",
             absl::StrCat(absl::ToInt64Milliseconds(options.delivery_timeout))},
        });
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
    rd_kafka_conf_set_opaque(conf->get(), this);
    char err[512];
    w.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof(err));
    if (w.producer == nullptr) return absl::InvalidArgumentError(err);
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(
            w.producer, static_cast<int>(absl::ToInt64Milliseconds(timeout)))) {
      return TxnError(e, "init transactions for " + txn_id);
    }
    w.broken = false;
    w.unfinished = TxnWriter::Unfinished::kNone;
    return absl::OkStatus();
  }

  ~Impl() {
    stopping.store(true);
    if (poller.joinable()) poller.join();
    writers.clear();
    if (uncommitted != nullptr) rd_kafka_destroy(uncommitted);
    if (producer != nullptr) {
      rd_kafka_flush(producer, 10'000);
      rd_kafka_destroy(producer);
    }
  }
};

KafkaEventLog::KafkaEventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  for (auto& [index, writer] : impl_->writers) {
    TxnWriter* w = writer.get();
    w->thread = std::thread([this, w] { RunWriter(*w); });
  }
}

KafkaEventLog::~KafkaEventLog() {
  for (auto& [partition, w] : impl_->writers) {
    {
      absl::MutexLock lock(&w->queue_mu);
      w->stopping = true;
    }
    if (w->thread.joinable()) w->thread.join();
  }
}

absl::StatusOr<std::unique_ptr<KafkaEventLog>> KafkaEventLog::Open(
    const KafkaEventLogOptions& options, absl::Duration timeout) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("Kafka brokers are not set");
  if (options.topic.empty()) return absl::InvalidArgumentError("Kafka topic is not set");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto conf = MakeConf(
      options,
      {
          {"enable.idempotence", "true"},
          {"acks", "all"},
          {"partitioner", "murmur2_random"},
          // Its appends (the audit of reads) each hold an answer back: none waits for a batch
          // to fill. Appends queued while a request is in flight still share the next one.
          {"linger.ms", "0"},
          {"batch.num.messages", "10000"},
          {"compression.type", "lz4"},
          {"message.timeout.ms", absl::StrCat(absl::ToInt64Milliseconds(options.delivery_timeout))},
      });
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
  rd_kafka_conf_set_opaque(conf->get(), impl.get());
  char err[512];
  impl->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof(err));
  if (impl->producer == nullptr) return absl::InvalidArgumentError(err);
  {
    auto watermarks = MakeConf(options, {{"group.id", options.group_id + ".watermarks"},
                                         {"isolation.level", "read_uncommitted"},
                                         {"enable.auto.commit", "false"}});
    if (!watermarks.ok()) return watermarks.status();
    impl->uncommitted = rd_kafka_new(RD_KAFKA_CONSUMER, watermarks->release(), err, sizeof(err));
    if (impl->uncommitted == nullptr) return absl::InvalidArgumentError(err);
  }

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
    rd_kafka_AdminOptions_t* admin =
        rd_kafka_AdminOptions_new(impl->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
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
      rd_kafka_resp_err_t e =
          rd_kafka_metadata(impl->producer, 0, rkt, &md,
                            static_cast<int>(absl::ToInt64Milliseconds(until - absl::Now())));
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

  if (!options.transactional_id_prefix.empty()) {
    if (options.replica_count < 1 || options.replica_index < 0 ||
        options.replica_index >= options.replica_count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "replica index ", options.replica_index, " is not in [0, ", options.replica_count, ")"));
    }
    if (options.writers < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the writer count ", options.writers, " is negative"));
    }
    impl->writer_count = options.writers == 0 ? impl->partitions : options.writers;
    if (impl->writer_count > impl->partitions) {
      return absl::InvalidArgumentError(absl::StrCat("the writer count ", impl->writer_count,
                                                     " exceeds the topic's ", impl->partitions,
                                                     " partitions"));
    }
    if (options.replica_count > impl->writer_count) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.replica_count, " replicas but only ", impl->writer_count,
                       " writers: some replicas would write nothing (raise the writer count)"));
    }
    for (int32_t index = options.replica_index; index < impl->writer_count;
         index += options.replica_count) {
      auto writer = std::make_unique<TxnWriter>();
      writer->index = index;
      absl::MutexLock lock(&writer->mu);
      CRM_RETURN_IF_ERROR(impl->StartWriter(*writer, timeout));
      for (int32_t p = index; p < impl->partitions; p += impl->writer_count) {
        impl->writer_of[p] = writer.get();
      }
      impl->writers[index] = std::move(writer);
    }
  }

  Impl* raw = impl.get();
  impl->poller = std::thread([raw] {
    while (!raw->stopping.load()) {
      rd_kafka_poll(raw->producer, raw->writers.empty() ? 100 : 20);
      for (auto& [p, w] : raw->writers) {
        // A writer busy in a transaction serves its own callbacks; never wait for it here.
        if (!w->mu.TryLock()) continue;
        rd_kafka_poll(w->producer, 0);
        w->mu.Unlock();
      }
    }
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
  if (absl::Status checked = CheckValues(values); !checked.ok()) return checked;
  const int32_t partition = PartitionOf(key);
  if (!impl_->writers.empty()) {
    return AppendTransactional(partition, key, std::move(values), deadline).Get();
  }
  auto pending = std::make_shared<Pending>();
  ProduceAppend(partition, key, values, pending);
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

void KafkaEventLog::ProduceAppend(int32_t partition, absl::string_view key,
                                  const std::vector<AppendValue>& values,
                                  const std::shared_ptr<Pending>& pending) {
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
  for (const auto& v : values) {
    rd_kafka_resp_err_t e =
        ProduceOne(impl_->producer, impl_->options.topic, partition, key, v, pending);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Records already produced still report; account for the ones that never will.
      bool done = false;
      {
        absl::MutexLock lock(&pending->mu);
        pending->status = KafkaError(e, "produce");
        pending->remaining -= static_cast<int>(values.size()) - produced;
        done = pending->remaining == 0;
      }
      if (done) {
        {
          absl::MutexLock lock(&impl_->mu);
          if (--impl_->unresolved[partition] == 0) impl_->unresolved.erase(partition);
        }
        Complete(*pending);
      }
      break;
    }
    ++produced;
  }
}

int32_t KafkaEventLog::WriterOf(int32_t partition) const {
  return impl_->writer_count == 0 ? partition : partition % impl_->writer_count;
}

bool KafkaEventLog::Writes(int32_t partition) const {
  return impl_->writers.empty() || impl_->writer_of.count(partition) > 0;
}

base::Future<LogPosition> KafkaEventLog::AppendAsync(absl::string_view key,
                                                     std::vector<AppendValue> values,
                                                     absl::Time deadline) {
  if (absl::Status checked = CheckValues(values); !checked.ok()) return checked;
  if (!impl_->writers.empty()) {
    return AppendTransactional(PartitionOf(key), key, std::move(values), deadline);
  }
  // Completed by the last delivery report, on the poller thread.
  auto pending = std::make_shared<Pending>();
  base::Future<LogPosition> future = [&] {
    absl::MutexLock lock(&pending->mu);
    pending->promise.emplace();
    return pending->promise->future();
  }();
  ProduceAppend(PartitionOf(key), key, values, pending);
  return future;
}

base::Future<LogPosition> KafkaEventLog::AppendTransactional(int32_t partition,
                                                             absl::string_view key,
                                                             std::vector<AppendValue> values,
                                                             absl::Time deadline) {
  auto it = impl_->writer_of.find(partition);
  if (it == impl_->writer_of.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("partition ", partition, " is written by another replica"));
  }
  TxnWriter& w = *it->second;
  auto queued = std::make_unique<QueuedAppend>();
  queued->partition = partition;
  queued->key = std::string(key);
  queued->values = std::move(values);
  queued->deadline = deadline;
  base::Future<LogPosition> future = queued->promise.future();
  absl::MutexLock lock(&w.queue_mu);
  if (w.stopping) return absl::UnavailableError("the event log is closing");
  w.queue.push_back(std::move(queued));
  return future;
}

void KafkaEventLog::RunWriter(TxnWriter& w) {
  absl::Time last_commit = absl::InfinitePast();
  for (;;) {
    std::vector<std::unique_ptr<QueuedAppend>> group;
    {
      absl::MutexLock lock(&w.queue_mu);
      auto ready = +[](TxnWriter* pw) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pw->queue_mu) {
        return pw->stopping || !pw->queue.empty();
      };
      w.queue_mu.Await(absl::Condition(ready, &w));
      // The coordinator finishes a commit (markers, then its own log) shortly after answering
      // it; a transaction begun before that gets CONCURRENT_TRANSACTIONS, which librdkafka 2.0.2
      // retries only after a fixed 20 ms (retry.backoff.ms does not apply). Measured with
      // bench/txn_ceiling.sh: back to back, one transaction in ten took 20 ms more; with 1 ms
      // between them, none. The appends that arrive meanwhile join this transaction.
      const absl::Time earliest = last_commit + kMinTransactionGap;
      if (absl::Now() < earliest) {
        w.queue_mu.AwaitWithDeadline(absl::Condition(
                                         +[](TxnWriter* pw) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                              pw->queue_mu) { return pw->stopping; },
                                         &w),
                                     earliest);
      }
      if (w.stopping) {
        for (auto& q : w.queue) q->promise.Set(absl::UnavailableError("the event log is closing"));
        w.queue.clear();
        return;
      }
      // Everything queued, bounded in count and bytes, goes into the next transaction.
      size_t records = 0, bytes = 0;
      while (!w.queue.empty()) {
        QueuedAppend& q = *w.queue.front();
        size_t q_bytes = 0;
        for (const auto& v : q.values) q_bytes += v.value.size();
        if (!group.empty() && (records + q.values.size() > kMaxRecordsPerTransaction ||
                               bytes + q_bytes > kMaxBytesPerTransaction)) {
          break;
        }
        records += q.values.size();
        bytes += q_bytes;
        group.push_back(std::move(w.queue.front()));
        w.queue.pop_front();
      }
    }
    // An append whose caller gave up while it queued is not made: its answer is final (not
    // recorded), unlike one that fails inside a transaction.
    const absl::Time now = absl::Now();
    std::vector<QueuedAppend*> live;
    absl::Time deadline = now;
    for (auto& q : group) {
      if (q->deadline <= now) {
        q->promise.Set(absl::DeadlineExceededError("deadline passed before the append was made"));
        continue;
      }
      live.push_back(q.get());
      deadline = std::max(deadline, q->deadline);
    }
    if (live.empty()) continue;
    const absl::Time commit_start = absl::Now();
    std::vector<absl::StatusOr<LogPosition>> results = CommitGroup(w, live, deadline);
    last_commit = absl::Now();
    size_t records = 0;
    for (const QueuedAppend* q : live) records += q->values.size();
    static const WriteMetrics* write_metrics = new WriteMetrics("kafka");
    write_metrics->Observe(
        last_commit - commit_start, live.size(), records,
        std::all_of(results.begin(), results.end(), [](const auto& r) { return r.ok(); }));
    transactions_.fetch_add(1, std::memory_order_relaxed);
    for (size_t i = 0; i < live.size(); ++i) live[i]->promise.Set(std::move(results[i]));
  }
}

std::vector<absl::StatusOr<LogPosition>> KafkaEventLog::CommitGroup(
    TxnWriter& w, const std::vector<QueuedAppend*>& group, absl::Time deadline) {
  auto all = [&](absl::Status status) {
    return std::vector<absl::StatusOr<LogPosition>>(group.size(), status);
  };
  absl::MutexLock lock(&w.mu);
  // Known again only after a transaction that committed with every delivery report.
  std::map<int32_t, int64_t> after;
  after.swap(w.last_committed);  // restored below once this transaction committed
  if (absl::Status s = ResolveLocked(w, deadline); !s.ok()) return all(s);
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(w.producer)) {
    NoteFailure(w, e);
    return all(TxnError(e, "begin transaction"));
  }
  std::vector<std::shared_ptr<Pending>> pendings;
  for (QueuedAppend* q : group) {
    auto pending = std::make_shared<Pending>();
    pending->partition = q->partition;
    {
      absl::MutexLock plock(&pending->mu);
      pending->remaining = static_cast<int>(q->values.size());
    }
    pendings.push_back(pending);
  }
  for (size_t i = 0; i < group.size(); ++i) {
    for (const auto& v : group[i]->values) {
      rd_kafka_resp_err_t e = ProduceOne(w.producer, impl_->options.topic, group[i]->partition,
                                         group[i]->key, v, pendings[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (rd_kafka_error_t* ae = rd_kafka_abort_transaction(w.producer, TimeoutMs(deadline))) {
        w.unfinished = TxnWriter::Unfinished::kAbort;  // resumed by the next Settle/Append
        rd_kafka_error_destroy(ae);
      }
      // The append that could not be produced gets its own error; the others of the group were
      // aborted with it: not recorded, safe to retry.
      std::vector<absl::StatusOr<LogPosition>> out = all(absl::UnavailableError(
          "the transaction was aborted: another append of it could not be produced; retry"));
      out[i] = KafkaError(e, "produce");
      return out;
    }
  }
  if (rd_kafka_error_t* e = rd_kafka_commit_transaction(w.producer, TimeoutMs(deadline))) {
    NoteFailure(w, e);
    if (w.fenced) {
      spdlog::error(
          "writer {}: fenced by another process; this replica no longer writes its "
          "partitions",
          w.index);
    } else if (w.broken) {
      spdlog::error("writer {}: fatal producer error; a new producer takes over", w.index);
    } else if (rd_kafka_error_txn_requires_abort(e)) {
      if (rd_kafka_error_t* ae = rd_kafka_abort_transaction(w.producer, TimeoutMs(deadline))) {
        w.unfinished = TxnWriter::Unfinished::kAbort;
        rd_kafka_error_destroy(ae);
      }
    } else {
      w.unfinished = TxnWriter::Unfinished::kCommit;  // e.g. timed out: may yet succeed
    }
    return all(TxnError(e, "commit transaction"));
  }
  std::vector<absl::StatusOr<LogPosition>> out;
  std::vector<LogRecord> committed;
  bool complete = true;
  for (size_t i = 0; i < pendings.size(); ++i) {
    Pending& pending = *pendings[i];
    absl::MutexLock plock(&pending.mu);
    // The commit flushed every record, so every delivery report has been served.
    pending.mu.AwaitWithDeadline(
        absl::Condition(
            +[](Pending* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu) { return p->remaining == 0; },
            &pending),
        absl::Now() + absl::Seconds(5));
    if (pending.remaining > 0 || !pending.status.ok() ||
        pending.offsets.size() != group[i]->values.size()) {
      out.push_back(absl::InternalError("transaction committed but delivery reports are missing"));
      complete = false;
      continue;
    }
    out.push_back(pending.last);
    // An append's records are produced in order and delivered in order within a partition.
    std::sort(pending.offsets.begin(), pending.offsets.end());
    for (size_t r = 0; r < pending.offsets.size(); ++r) {
      LogRecord record;
      record.position = {pending.partition, pending.offsets[r]};
      record.key = group[i]->key;
      record.value = group[i]->values[r].value;
      record.headers = group[i]->values[r].headers;
      record.topic = impl_->options.topic;
      committed.push_back(std::move(record));
    }
  }
  if (!complete) return out;
  w.last_committed = after;
  for (const LogRecord& record : committed) {
    int64_t& last = w.last_committed[record.position.partition];
    last = std::max(last, record.position.offset);
  }
  absl::ReaderMutexLock listener_lock(&impl_->listener_mu);
  if (impl_->commit_listener) {
    // Only the partitions of this transaction whose previous commit is known.
    std::erase_if(committed,
                  [&](const LogRecord& r) { return !after.contains(r.position.partition); });
    std::erase_if(after, [&](const auto& entry) {
      return std::none_of(committed.begin(), committed.end(),
                          [&](const LogRecord& r) { return r.position.partition == entry.first; });
    });
    std::sort(committed.begin(), committed.end(), [](const LogRecord& a, const LogRecord& b) {
      return std::pair(a.position.partition, a.position.offset) <
             std::pair(b.position.partition, b.position.offset);
    });
    if (!committed.empty()) impl_->commit_listener(committed, after);
  }
  return out;
}

void KafkaEventLog::SetCommitListener(CommitListener listener) {
  absl::MutexLock lock(&impl_->listener_mu);
  impl_->commit_listener = std::move(listener);
}

absl::Status KafkaEventLog::ResolveLocked(TxnWriter& w, absl::Time deadline) {
  using Unfinished = TxnWriter::Unfinished;
  if (w.fenced) {
    return absl::UnavailableError(
        "fenced: another replica now runs this partition's writer (check replica indexes)");
  }
  if (w.broken) {
    // A new producer with the same transactional id aborts whatever the old one left open.
    CRM_RETURN_IF_ERROR(impl_->StartWriter(w, std::max(deadline - absl::Now(), absl::Seconds(1))));
    spdlog::info("writer {}: new transactional producer after a fatal error", w.index);
  }
  if (w.unfinished == Unfinished::kCommit) {
    // Resuming the commit completes it, or says it must be aborted.
    rd_kafka_error_t* e = rd_kafka_commit_transaction(w.producer, TimeoutMs(deadline));
    if (e == nullptr) {
      w.unfinished = Unfinished::kNone;
      return absl::OkStatus();
    }
    NoteFailure(w, e);
    if (w.fenced || w.broken) return TxnError(e, "resume commit");
    if (!rd_kafka_error_txn_requires_abort(e)) return TxnError(e, "resume commit");
    rd_kafka_error_destroy(e);
    w.unfinished = Unfinished::kAbort;
  }
  if (w.unfinished == Unfinished::kAbort) {
    rd_kafka_error_t* e = rd_kafka_abort_transaction(w.producer, TimeoutMs(deadline));
    if (e == nullptr) {
      w.unfinished = Unfinished::kNone;
      return absl::OkStatus();
    }
    NoteFailure(w, e);
    return TxnError(e, "resume abort");
  }
  return absl::OkStatus();
}

absl::Status KafkaEventLog::Settle(absl::string_view key, absl::Time deadline) {
  const int32_t partition = PartitionOf(key);
  if (auto it = impl_->writer_of.find(partition); it != impl_->writer_of.end()) {
    absl::MutexLock lock(&it->second->mu);
    CRM_RETURN_IF_ERROR(ResolveLocked(*it->second, deadline));
    // Every transaction of this partition's writer is final now (and none can begin while the
    // lock is held), but the coordinator writes the commit markers afterwards: until they are
    // written, the last stable offset (what EndOffset and read_committed readers see) stops
    // before the last transaction's records. Wait until it reaches the high watermark, so that
    // EndOffset covers every earlier append.
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(impl_->uncommitted, impl_->options.topic.c_str(),
                                         partition, &low, &high, TimeoutMs(deadline));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(e, "high watermark");
    absl::Duration backoff = absl::Milliseconds(2);
    for (;;) {
      absl::StatusOr<int64_t> stable = EndOffset(partition);
      if (!stable.ok()) return stable.status();
      if (*stable >= high) return absl::OkStatus();
      if (absl::Now() + backoff > deadline) {
        return absl::DeadlineExceededError("the last transaction's markers are not written yet");
      }
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(100));
    }
  }
  absl::MutexLock lock(&impl_->mu);
  struct Arg {
    Impl* impl;
    int32_t partition;
  } arg{impl_.get(), partition};
  bool settled =
      impl_->mu.AwaitWithDeadline(absl::Condition(
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
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
    return KafkaError(e, "assign");
  }
  return std::unique_ptr<LogReader>(new KafkaReader(rk, list));
}

absl::Status KafkaEventLog::WriterStatus() const {
  if (impl_->writers.empty()) return absl::OkStatus();
  // Can the brokers be reached at all? A metadata request (brokers only) answers in a round trip,
  // or fails within a second when none can be reached.
  const struct rd_kafka_metadata* metadata = nullptr;
  rd_kafka_resp_err_t e =
      rd_kafka_metadata(impl_->producer, /*all_topics=*/0, nullptr, &metadata, /*timeout_ms=*/1000);
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("the Kafka brokers cannot be reached: ", rd_kafka_err2str(e)));
  }
  for (const auto& [index, w] : impl_->writers) {
    absl::MutexLock lock(&w->mu);
    if (w->fenced) {
      return absl::FailedPreconditionError(
          absl::StrCat("writer ", index,
                       " was fenced by another process: this replica no longer writes its "
                       "partitions (check replica indexes; restart it to take them back)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> KafkaEventLog::EndOffset(int32_t partition) {
  int64_t low = 0, high = 0;
  // Right after a topic is created or a broker restarts, leadership is still settling: retry
  // those answers for a while before giving up.
  const absl::Time until = absl::Now() + absl::Seconds(10);
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
        impl_->producer, impl_->options.topic.c_str(), partition, &low, &high, 5000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return high;
    const bool transient = e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                           e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                           e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                           e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (!transient || absl::Now() + backoff > until) return KafkaError(e, "watermark offsets");
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(1000));
  }
}

}  // namespace crm::eventlog
