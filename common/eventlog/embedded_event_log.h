// EmbeddedEventLog: the EventLog of a single process, kept in a local RocksDB
// (through crm::kv::KvStore). One partition (0); offsets start at 0, are dense,
// and never change across restarts.
//
// Why: a single-node deployment (and every integration test) needs a durable
// log without running a Kafka broker.
//
// Durability: Append returns only after its records are fsync'd. Concurrent
// appenders share one fsync (group commit, as leveldb's DBImpl::Write): they
// queue up, the one at the front writes every queued append as one batch, in
// queue order, and wakes the others.
//
// Visibility: readers see a contiguous prefix of the log; offset N+1 is never
// visible before N.
//
// Thread-safe. REQUIRES: every LogReader is destroyed before the log, and no
// Append is in flight when the log is destroyed. Only one EmbeddedEventLog may
// have a directory open at a time (Open returns UNAVAILABLE otherwise).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"
#include "common/kv/kv_store.h"

namespace crm::eventlog {

class EmbeddedEventLog final : public EventLog {
 public:
  // Largest value of a single record.
  static constexpr size_t kMaxValueBytes = 1 << 20;

  // Opens (creating if missing) the log stored in directory `dir`. `count_writes`: its writes
  // are reported as crm_log_write_* (write_metrics.h); false for a log that is not the event log
  // (the audit of reads, which has metrics of its own).
  // Errors: UNAVAILABLE (locked by another process, I/O), DATA_LOSS
  // (corrupted).
  static absl::StatusOr<std::unique_ptr<EmbeddedEventLog>> Open(const std::string& dir,
                                                                bool count_writes = true);
  // A second log named `name` in the store of `log` (its keys under "l/<name>/", apart from
  // the first log's): as durable (each group fsync'd), copied by the same checkpoint (backups),
  // and stopping and recovering with the same store on a full disk, without a second RocksDB.
  // The two share the store, which lives as long as either. INVALID_ARGUMENT for an empty name
  // or one with "/".
  // `sync` false: a group is written to the store's write-ahead log without an fsync (it
  // survives the process crashing, not the machine losing power); for a log whose every append
  // would otherwise cost a read its fsync (the audit of reads).
  static absl::StatusOr<std::unique_ptr<EmbeddedEventLog>> OpenBeside(const EmbeddedEventLog& log,
                                                                      absl::string_view name,
                                                                      bool count_writes, bool sync);

  ~EmbeddedEventLog() override;

  int32_t PartitionCount() const override { return 1; }
  int32_t PartitionOf(absl::string_view) const override { return 0; }
  // INVALID_ARGUMENT if values is empty or a value exceeds kMaxValueBytes.
  // DEADLINE_EXCEEDED if the deadline passes before the append was handed to a
  // writer (then nothing was appended).
  absl::StatusOr<LogPosition> Append(absl::string_view key, std::vector<AppendValue> values,
                                     absl::Time deadline) override;
  // INVALID_ARGUMENT for a partition other than 0 or a negative offset.
  absl::StatusOr<std::unique_ptr<LogReader>> NewReader(
      const std::map<int32_t, int64_t>& start) override;
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override;

  bool IsLocal() const override { return true; }
  // The log has one writer (this process): after each group commit the listener gets the
  // group's records, with `after` = {0: the offset before them}, before any reader sees them and
  // before the appends are answered (EventLog::SetCommitListener).
  void SetCommitListener(CommitListener listener) override;
  // A RocksDB checkpoint of the log's store (kv::KvStore::Checkpoint): Open(dir) opens it.
  absl::Status Checkpoint(const std::string& dir) const override { return store_->Checkpoint(dir); }

  // Number of synced write groups since Open. Appends that share a group share
  // one fsync.
  int64_t sync_count() const;

 private:
  class Reader;
  struct Writer;

  EmbeddedEventLog(std::shared_ptr<kv::KvStore> store, std::string prefix, int64_t end,
                   bool count_writes, bool sync);

  // Hands the records [from, to) of the group being committed (the front writers) to the
  // listener, with mu_ released while it runs. REQUIRES: mu_ held by the group's leader.
  void NotifyCommitted(int64_t from, int64_t to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Reads the committed records [from, to). REQUIRES: to <= committed end.
  absl::StatusOr<std::vector<LogRecord>> ReadRange(int64_t from, int64_t to) const;

  const std::shared_ptr<kv::KvStore> store_;
  // Start of every key of this log ("" for the store's first log).
  const std::string prefix_;
  const bool count_writes_;
  const bool sync_;  // fsync each group (see OpenBeside)

  mutable absl::Mutex mu_;
  // Appends waiting to be written; the front one is the leader of the next
  // write group.
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  // Offset of the next record; every record below it is committed and visible.
  int64_t end_ ABSL_GUARDED_BY(mu_);
  // Set after a failed write whose outcome could not be determined; every later
  // Append fails.
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  int64_t sync_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Signalled when end_ grows or a reader is closed.
  absl::CondVar committed_cv_;
  // Held while the listener runs, so replacing it waits for a call in progress. Never held
  // together with mu_ (the leader releases mu_ before taking it).
  absl::Mutex listener_mu_;
  CommitListener listener_ ABSL_GUARDED_BY(listener_mu_);
  std::atomic<bool> has_listener_{false};  // skips building records nobody listens for
};

}  // namespace crm::eventlog
