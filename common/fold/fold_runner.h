// FoldRunner: runs a Fold over an EventLog into a KvStore, exactly once per record.
//
// Why: every read model (and the command side's own state) is a fold of the log. The runner keeps
// the fold's consumed position in the same KvBatch as the fold's writes, so that after a crash at
// any point the store is as if a prefix of the log had been applied, and resumes right after it.
//
// Records are applied in batches (up to Options::max_batch records per write). A record that the
// fold rejects with DATA_LOSS (undecodable) is recorded as a dead letter in the store, counted
// and logged with its position; it never stops the runner. Other errors are retried with backoff.
//
// Store layout under kReservedPrefix: "pos/<partition>" -> decimal offset of the last applied
// record; "dead/<partition:010>/<offset:020>" -> error message, a NUL byte, the raw record value.
//
// Thread-safe: WaitFor/Applied may be called from any thread; Start/Stop from one owner thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/future.h"
#include "common/eventlog/consistency_token.h"
#include "common/eventlog/event_log.h"
#include "common/kv/kv_store.h"

namespace crm::fold {

// Applies one record to the store through `batch`. Must be deterministic (same records -> same
// writes), since a rebuild from position zero must produce identical views.
class Fold {
 public:
  virtual ~Fold() = default;
  // DATA_LOSS: the record cannot be decoded; it becomes a dead letter. Any other error: the whole
  // batch is discarded and retried.
  virtual absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) = 0;
};

class FoldRunner {
 public:
  struct Options {
    std::string name = "fold";  // For logs and metrics.
    size_t max_batch = 512;
  };

  // Does not take ownership; all must outlive the runner.
  FoldRunner(eventlog::EventLog* log, kv::KvStore* store, Fold* fold, Options options);
  ~FoldRunner();  // Calls Stop().

  // Loads the stored positions and starts the background thread.
  absl::Status Start();
  // Stops the thread and waits for it. Idempotent.
  void Stop();

  // Applies every record up to the log's current end, synchronously, on the calling thread.
  // REQUIRES: not started. Used at start-up so a process serves only caught-up state.
  // Errors other than DATA_LOSS are retried a few times with backoff, then returned.
  absl::Status CatchUp();

  // Blocks until every partition in `positions` has applied at least that offset, or the deadline
  // passes (DEADLINE_EXCEEDED), or the runner stops (UNAVAILABLE).
  absl::Status WaitFor(const eventlog::PositionMap& positions, absl::Time deadline);

  // The same wait without a thread: the future completes (on the runner's thread, so its
  // continuation must be short) when every partition in `positions` has applied at least that
  // offset; DEADLINE_EXCEEDED soon after `deadline` (checked each time the runner polls, at least
  // every 200 ms), UNAVAILABLE if the runner stops first.
  base::Future<base::Done> WhenApplied(const eventlog::PositionMap& positions, absl::Time deadline);

  // partition -> last applied offset (-1 if none).
  eventlog::PositionMap Applied() const;

  // Records sent to the dead-letter area so far (since start).
  int64_t dead_letters() const { return dead_letters_.load(); }

  // Key prefix under which the runner keeps its own data in the store. Folds must not write keys
  // with this prefix.
  static constexpr absl::string_view kReservedPrefix =
      "\x01"
      "fold/";

 private:
  struct Waiter {
    eventlog::PositionMap positions;
    absl::Time deadline;
    base::Promise<base::Done> promise;
  };
  bool Reached(const eventlog::PositionMap& positions) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Completes the waiters whose positions are applied or whose deadline passed (all, if stopping).
  void NotifyWaiters();
  absl::Status CheckPartitions(const eventlog::PositionMap& positions) const;

  absl::Status LoadPositions();
  // Reads up to max_batch records and applies them in one write. Returns records applied.
  absl::StatusOr<size_t> ApplyOnce(eventlog::LogReader& reader, absl::Time deadline);
  void Run();

  eventlog::EventLog* const log_;
  kv::KvStore* const store_;
  Fold* const fold_;
  const Options options_;

  mutable absl::Mutex mu_;
  eventlog::PositionMap applied_ ABSL_GUARDED_BY(mu_);  // last applied offset per partition
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<eventlog::LogReader> reader_;
  // Records polled but not yet written because the last attempt failed; retried before polling
  // again. Used only by the applying thread (the runner's, or CatchUp's caller).
  std::vector<eventlog::LogRecord> pending_;
  std::thread thread_;
  std::atomic<int64_t> dead_letters_{0};
};

}  // namespace crm::fold
