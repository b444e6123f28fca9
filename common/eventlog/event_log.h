// EventLog: the durable, ordered log of events that is the system of record.
//
// Records are appended under a key (the customer id). All records of one key land in one
// partition, in append order, so each customer's events are totally ordered. A record's position
// (partition, offset) never changes once acknowledged and is stable across restarts.
//
// Implementations: EmbeddedEventLog (RocksDB, one partition, the single-process default),
// KafkaEventLog (Apache Kafka), InMemoryEventLog (a fake for unit tests).
//
// Thread-safe: every method may be called concurrently. A LogReader is used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/base/future.h"

namespace crm::eventlog {

struct LogPosition {
  int32_t partition = 0;
  int64_t offset = 0;
  friend bool operator==(const LogPosition&, const LogPosition&) = default;
};

struct LogRecord {
  LogPosition position;
  std::string key;
  std::string value;
  // Transport headers (e.g. Kafka record headers). The embedded log keeps them too.
  std::vector<std::pair<std::string, std::string>> headers;
  // Where it came from, for logs: the Kafka topic; empty for the embedded log.
  std::string topic;
};

// What to append: a value with its headers. All values of one Append share the key.
struct AppendValue {
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Reads records in order from chosen starting offsets.
class LogReader {
 public:
  virtual ~LogReader() = default;
  // Returns up to `max_records` records that follow the last returned ones, in offset order per
  // partition. Blocks until at least one record is available or `deadline` passes; returns an
  // empty vector at the deadline. UNAVAILABLE on transient trouble (retry), CANCELLED after
  // Close().
  virtual absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records, absl::Time deadline) = 0;
  // Wakes a blocked Poll, which then returns CANCELLED. Thread-safe.
  virtual void Close() = 0;

  // Per partition, the highest offset the reader has moved past, counting offsets that hold no
  // record for the application (Kafka transaction markers), as far as it knows; only partitions
  // where that is ahead of the last returned record need be listed. Everything at or below it
  // has been returned by Poll. Logs without such offsets return an empty map.
  virtual std::map<int32_t, int64_t> PassedOffsets() const { return {}; }
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Number of partitions; positions have partition in [0, PartitionCount()).
  virtual int32_t PartitionCount() const = 0;

  // Appends `values` under `key`, atomically and in order, and returns the position of the last
  // one once all are durable. REQUIRES: !values.empty().
  // Errors: UNAVAILABLE (nothing or possibly something appended: the caller must treat the
  // outcome as unknown), DEADLINE_EXCEEDED, INVALID_ARGUMENT (too large).
  virtual absl::StatusOr<LogPosition> Append(absl::string_view key, std::vector<AppendValue> values,
                                             absl::Time deadline) = 0;

  // The same append without the caller's thread waiting for the log: the future completes with
  // what Append would return, on a thread of the log's own (keep its continuation short). The
  // default runs Append on the calling thread (logs whose appends do not wait on a network).
  virtual base::Future<LogPosition> AppendAsync(absl::string_view key,
                                                std::vector<AppendValue> values,
                                                absl::Time deadline) {
    return Append(key, std::move(values), deadline);
  }

  // A reader starting at `start[partition]` (next offset to read) for each partition in `start`.
  // Partitions absent from `start` are not read.
  virtual absl::StatusOr<std::unique_ptr<LogReader>> NewReader(
      const std::map<int32_t, int64_t>& start) = 0;

  // The offset the next record of `partition` will get (= number of records, for offsets from 0).
  virtual absl::StatusOr<int64_t> EndOffset(int32_t partition) = 0;

  // The partition every record of `key` lands in.
  virtual int32_t PartitionOf(absl::string_view key) const = 0;

  // The writer that appends to `partition`: partitions of one writer are written in shared
  // transactions, by one process at a time, so streams on them are owned by the same command
  // replica (writer % replicas). Logs without fenced writers: the partition itself.
  virtual int32_t WriterOf(int32_t partition) const { return partition; }

  // Told by a log whose partitions each have one fenced writer (Kafka with transactions) after
  // each of this process's transactions committed, on the writer's thread, before its appends
  // are answered: the committed records with their positions, and `after`: per partition, the
  // offset of the writer's previous committed record there (partitions where the writer does
  // not know it, e.g. its first transaction or after a failure, are left out, records too).
  // For FoldRunner::OfferCommitted. Thread-safe; replacing (or clearing, with nullptr) waits for
  // a call in progress. Other logs never call it.
  using CommitListener = std::function<void(const std::vector<LogRecord>& records,
                                            const std::map<int32_t, int64_t>& after)>;
  virtual void SetCommitListener(CommitListener listener) {}

  // After an Append that failed with an unknown outcome (its records may still land), waits
  // until the outcome of every earlier Append of `key`'s partition is final, so that EndOffset
  // then covers all of them. DEADLINE_EXCEEDED if not by `deadline`. Logs whose failed appends
  // never land later (the embedded log) return OK at once.
  virtual absl::Status Settle(absl::string_view key, absl::Time deadline) {
    return absl::OkStatus();
  }

  // Whether this process can append, as far as it can tell within about a second:
  // FAILED_PRECONDITION if another process fenced one of its writers (for good), UNAVAILABLE if
  // the log cannot be reached. Logs without fenced writers: OK (their failures show in Append).
  virtual absl::Status WriterStatus() const { return absl::OkStatus(); }

  // Whether the log's records live in this process's data directory (the embedded log), so a
  // backup of the process must copy them (Checkpoint). Kafka's do not.
  virtual bool IsLocal() const { return false; }
  // Writes a consistent copy of the log into directory `dir` (which must not exist): every
  // append answered before the call is in it. UNIMPLEMENTED for logs that are not local.
  virtual absl::Status Checkpoint(const std::string& dir) const {
    return absl::UnimplementedError("this event log is not kept by this process");
  }
};

}  // namespace crm::eventlog
