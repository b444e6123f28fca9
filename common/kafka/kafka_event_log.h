// KafkaEventLog: the EventLog on Apache Kafka, for deployments that outgrow one machine.
//
// One topic per event family. Records are keyed by customer id and partitioned with the
// Java-compatible murmur2_random partitioner, so any Kafka client agrees on a key's partition.
// Positions are (partition, offset). The producer is idempotent with acks=all: Append returns a
// position only after the broker acknowledged every record (delivery report OK).
//
// Outcome of a failed Append: UNAVAILABLE. When the caller's deadline passed before the delivery
// report, the records may still land later; `Settle` waits for such stragglers of a key's
// partition, so a writer can re-read the partition before deciding on it again.
//
// The topic is created if absent with the configured partitions and retention (delete policy,
// retention forever by default: history is never compacted away).
// Thread-safe. librdkafka types stay inside kafka_event_log.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"

namespace crm::eventlog {

struct KafkaEventLogOptions {
  // bootstrap.servers, e.g. "127.0.0.1:19092".
  std::string brokers;
  // e.g. "crm.customer.events.v1".
  std::string topic;
  // Used only when the topic is created.
  int32_t partitions = 6;
  int16_t replication_factor = 1;
  int64_t retention_ms = -1;  // -1: forever
  std::string client_id = "crm";
  // Consumer group id of readers; offsets committed there are informational only.
  std::string group_id = "crm";
  // How long librdkafka keeps retrying a record before reporting it failed.
  absl::Duration delivery_timeout = absl::Seconds(30);
  // Fenced single writers (crm-command replicas). When transactional_id_prefix is set, the
  // partitions are divided among `writers` transactional writers (partition p belongs to writer
  // p % writers; 0: one writer per partition) and this process runs the writers w with
  // w % replica_count == replica_index, each with its own transactional producer
  // "<transactional_id_prefix>.p<w>" (one writer per partition) or
  // "<transactional_id_prefix>.w<w>-of-<writers>". Starting that producer fences every earlier
  // process that ran the writer (a zombie replica): its transactions abort and it can append
  // nothing more. Appends to partitions of other writers are FAILED_PRECONDITION.
  // A writer's transaction spans its partitions: fewer writers make larger transactions (more
  // commands per transaction), more writers allow more replicas. Like the partition count, the
  // writer count is fixed for a deployment: change it only with every writer stopped.
  std::string transactional_id_prefix;
  int32_t writers = 0;
  int32_t replica_index = 0;
  int32_t replica_count = 1;
  // Extra librdkafka properties for producer and consumers (name, value); they win.
  std::vector<std::pair<std::string, std::string>> extra_config;
};

class KafkaEventLog final : public EventLog {
 public:
  // Connects, creates the topic if absent and reads its partition count.
  // UNAVAILABLE if the brokers cannot be reached within `timeout`; INVALID_ARGUMENT for bad
  // options (the message names the property).
  static absl::StatusOr<std::unique_ptr<KafkaEventLog>> Open(const KafkaEventLogOptions& options,
                                                             absl::Duration timeout);
  ~KafkaEventLog() override;

  int32_t PartitionCount() const override;
  absl::StatusOr<LogPosition> Append(absl::string_view key, std::vector<AppendValue> values,
                                     absl::Time deadline) override;
  // Transactional mode: queued for the partition's writer thread; the future completes there
  // once the transaction holding the records committed (or failed). Without transactions: the
  // records are produced at once and the future completes on the poller thread with the last
  // delivery report (acks=all), at most delivery_timeout later; the caller's thread never
  // waits, and `deadline` is not applied (the delivery timeout bounds the wait).
  base::Future<LogPosition> AppendAsync(absl::string_view key, std::vector<AppendValue> values,
                                        absl::Time deadline) override;
  absl::StatusOr<std::unique_ptr<LogReader>> NewReader(
      const std::map<int32_t, int64_t>& start) override;
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override;

  // The partition of `key` (murmur2, as the Java client computes it).
  int32_t PartitionOf(absl::string_view key) const override;
  absl::Status WriterStatus() const override;

  // Waits until no Append to `key`'s partition is still waiting for its delivery report, and in
  // transactional mode resolves a transaction whose commit had an unknown outcome.
  absl::Status Settle(absl::string_view key, absl::Time deadline) override;

  int32_t WriterOf(int32_t partition) const override;
  void SetCommitListener(CommitListener listener) override;

  // Whether this process writes `partition` (always true without transactional_id_prefix).
  bool Writes(int32_t partition) const;

  // Transactional mode: appends to one writer's partitions that arrive while its transaction is
  // in flight go together into the next one (group commit); each is answered once that one
  // committed.
  // Bounds of one transaction:
  static constexpr size_t kMaxRecordsPerTransaction = 1000;
  static constexpr size_t kMaxBytesPerTransaction = 4 << 20;
  // A writer begins a transaction no sooner than this after its previous one ended (see
  // RunWriter: librdkafka's fixed backoff when the broker is still finishing the last commit).
  static constexpr absl::Duration kMinTransactionGap = absl::Milliseconds(1);
  // Transactions run so far (committed or not), for tests and metrics.
  int64_t transactions() const { return transactions_.load(std::memory_order_relaxed); }

  struct Impl;

 private:
  explicit KafkaEventLog(std::unique_ptr<Impl> impl);
  // Produces an Append's records without transactions; their delivery reports count `pending`
  // down (and complete its promise, if any, after the last).
  void ProduceAppend(int32_t partition, absl::string_view key,
                     const std::vector<AppendValue>& values,
                     const std::shared_ptr<struct Pending>& pending);
  base::Future<LogPosition> AppendTransactional(int32_t partition, absl::string_view key,
                                                std::vector<AppendValue> values,
                                                absl::Time deadline);
  // The loop of a writer's thread: one transaction per group of queued appends.
  void RunWriter(struct TxnWriter& writer);
  // One transaction for a group of queued appends; a result per append, in order.
  std::vector<absl::StatusOr<LogPosition>> CommitGroup(
      struct TxnWriter& writer, const std::vector<struct QueuedAppend*>& group,
      absl::Time deadline);
  absl::Status ResolveLocked(struct TxnWriter& writer, absl::Time deadline);
  std::unique_ptr<Impl> impl_;
  std::atomic<int64_t> transactions_{0};
};

}  // namespace crm::eventlog
