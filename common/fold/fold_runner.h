// FoldRunner: runs folds over an EventLog into a KvStore, each record exactly once per fold.
//
// Why: every read model (and the command side's own state) is a fold of the log. Each fold knows
// who it is (a name, a version, the key prefixes it owns) and the runner keeps each fold's own
// consumed position, in the same KvBatch as the fold's writes, so that after a crash at any point
// each fold's keys are as if a prefix of the log had been applied, and it resumes right after it.
//
// One reader, one pass: the folds that serve share one pass over the log and one write per batch
// (a record is applied only to the folds whose position is below it), so caught-up folds are
// always mutually consistent (a query joining two views never sees one ahead of the other).
//
// Versions: a fold whose stored version differs from version() (its reading of the events
// changed), or that has no stored version on a store where other folds have one (a new fold),
// has its key prefixes cleared at Start/CatchUp and then refolds from the start of the log by
// itself, in the background, on the runner's thread, with a reader of its own; meanwhile the other
// folds keep serving and advancing, and Serving() answers UNAVAILABLE for it. Once it has caught
// up with the serving pass it joins it. If no fold is serving (a fresh store, or every fold
// changed) all fold in the serving pass, so CatchUp folds them before the process serves. The
// refolding state is stored, so a refold interrupted by a restart resumes where it was.
//
// Migration: a store written before folds had their own positions (one shared position under
// "\x01fold/pos/<partition>") gives that position to each fold at version 1 (the versions the
// folds had then) and removes it; a fold at any other version refolds.
//
// Records are applied in batches (up to Options::max_batch records per write). A record that a
// fold rejects with DATA_LOSS (undecodable) is recorded as that fold's dead letter, counted and
// logged with its position; it never stops the runner, and the other folds still apply it. Other
// errors discard the whole batch, which is retried with backoff.
//
// Online rebuild (Rebuild, for runners with Options::online_rebuild): an operator's refold of one
// fold while the process serves, the same refold as after a version change. The fold leaves the
// serving pass at once (no batch of the serving pass, nor OfferCommitted, touches it again), its
// stored version becomes 0 (so a crash from then on clears and refolds it at the next start), its
// keys are cleared while the other folds go on, and the background refold pass takes it.
//
// Dead letters can be listed, read and retried (DeadLetters, GetDeadLetter, RetryDeadLetter): a
// retry applies the stored record through its fold again, out of its order in the log (the fold
// has moved past it), and on success removes the dead letter in the same write.
//
// Store layout under kReservedPrefix ("\x01fold/"), per fold:
//   <name>/meta                          -> "version=<v>" or "version=<v> refolding"; version 0
//                                           marks a fold an online rebuild is clearing
//   <name>/pos/<partition>               -> decimal offset of the last applied record
//   <name>/dead/<partition:010>/<offset:020> -> error message, a NUL byte, the raw record value
//   <name>/dead-record/<partition:010>/<offset:020> -> the dead record's key and headers (format
//                                           byte 1, then u32-length-prefixed key, a u32 count
//                                           and each header's name and value); written with
//                                           the dead letter since this key exists, so older
//                                           dead letters have none
// (Dead letters of the old layout stay under "dead/" and are not read.)
//
// Thread-safe: WaitFor/WhenApplied/Applied/Serving/Stats/Rebuild/the dead-letter methods may be
// called from any thread; Start/Stop/CatchUp from one owner thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
// writes), since a refold from position zero must produce identical keys.
class Fold {
 public:
  virtual ~Fold() = default;

  // Stable identity: keys the fold's position and version in the store, and names it in logs and
  // errors. Lower-case letters, digits and '-'; unique in its runner; not "pos" or "dead".
  virtual std::string name() const = 0;
  // Bumped (by one) whenever the fold's keys for the same records change: a new key, a changed
  // reading of an event. A store folded by another version is cleared and refolded. Starts at 1.
  virtual int64_t version() const = 0;
  // The key prefixes the fold writes, and nothing else does: what a refold clears. The prefixes of
  // one runner's folds must be disjoint; "" (every key but the runner's own) only for a runner's
  // only fold.
  virtual std::vector<std::string> prefixes() const = 0;

  // DATA_LOSS: the record cannot be decoded; it becomes a dead letter. Any other error: the whole
  // batch is discarded and retried.
  virtual absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) = 0;

  // Records of a type this build does not know, skipped (see proto/crm/events/v1/README.md,
  // "Readers"), since the process started. Counted by the fold through CountUnknown().
  int64_t unknown_records() const { return unknown_records_.load(); }

 protected:
  void CountUnknown() { ++unknown_records_; }

 private:
  std::atomic<int64_t> unknown_records_{0};
};

class FoldRunner {
 public:
  struct Options {
    std::string name = "fold";  // Of the runner, for logs.
    size_t max_batch = 512;
    // Whether Rebuild may refold a fold while the process serves: only for runners whose
    // readers check Serving() before they read a fold's keys (the views). The command state is
    // read by commands that do not (its one fold owns the whole store), so it is rebuilt only
    // at start (--rebuild).
    bool online_rebuild = false;
  };

  // What a fold is doing, for logs, tests and operators.
  struct FoldStats {
    std::string name;
    int64_t version = 0;
    bool refolding = false;
    eventlog::PositionMap applied;  // partition -> last applied offset (-1 if none)
    int64_t dead_letters = 0;       // recorded since start
    std::map<int32_t, int64_t> dead_letters_by_partition;  // recorded since start
    int64_t unknown_records = 0;                           // since start
    int64_t stored_dead_letters = 0;  // in the store now (retried ones are gone)
  };

  // A dead letter: the record a fold could not decode, and why.
  struct DeadLetterId {
    std::string fold;
    eventlog::LogPosition position;
  };
  struct DeadLetter {
    std::string fold;
    // position and value always; key and headers only if has_key_and_headers (dead letters
    // recorded before they were stored have none).
    eventlog::LogRecord record;
    bool has_key_and_headers = false;
    std::string error;  // the fold's DATA_LOSS message
  };

  // Does not take ownership; all must outlive the runner. REQUIRES: !folds.empty().
  FoldRunner(eventlog::EventLog* log, kv::KvStore* store, std::vector<Fold*> folds,
             Options options);
  FoldRunner(eventlog::EventLog* log, kv::KvStore* store, Fold* fold, Options options)
      : FoldRunner(log, store, std::vector<Fold*>{fold}, std::move(options)) {}
  ~FoldRunner();  // Calls Stop().

  // Loads the folds' versions and positions (migrating, clearing changed folds) and starts the
  // background thread. INVALID_ARGUMENT for folds with clashing names or prefixes.
  absl::Status Start();
  // Stops the thread and waits for it. Idempotent.
  void Stop();

  // Loads as Start does, then applies every record up to the log's current end to the serving
  // folds, synchronously, on the calling thread (folds that refold are left to the background).
  // REQUIRES: not started. Used at start-up so a process serves only caught-up state.
  // Errors other than DATA_LOSS are retried a few times with backoff, then returned.
  absl::Status CatchUp();

  // Blocks until the serving folds have applied at least `positions` in every partition listed,
  // or the deadline passes (DEADLINE_EXCEEDED), or the runner stops (UNAVAILABLE).
  absl::Status WaitFor(const eventlog::PositionMap& positions, absl::Time deadline);

  // The same wait without a thread: the future completes (on the runner's thread, so its
  // continuation must be short) when the serving folds have applied `positions`;
  // DEADLINE_EXCEEDED soon after `deadline`, CANCELLED soon after `cancelled` (if set) returns
  // true (both checked each time the runner polls, at least every 200 ms: a caller that went
  // away must not keep its wait, and the call, alive until the deadline), UNAVAILABLE if the
  // runner stops first. `cancelled` is called under the runner's lock: it must be cheap and must
  // not call the runner.
  base::Future<base::Done> WhenApplied(const eventlog::PositionMap& positions, absl::Time deadline,
                                       std::function<bool()> cancelled = nullptr);

  // Records the log's writer knows are committed, applied now instead of when the reader
  // reaches them (the reader later skips them, as already applied), so that a command's own
  // events are in the command state as soon as its transaction committed. Applied only when
  // every serving fold has applied everything up to `after` (partition -> offset of the last
  // record the writer committed before these) in each partition the records are in, so nothing
  // committed lies between; otherwise (or if the write fails) nothing happens and the reader
  // applies them as usual. Returns whether they were applied. Only for a log with a single
  // writer per partition (a fenced writer's own records). Thread-safe; runs the folds on the
  // calling thread.
  bool OfferCommitted(const std::vector<eventlog::LogRecord>& records,
                      const eventlog::PositionMap& after);

  // partition -> last offset the serving folds applied (-1 if none).
  eventlog::PositionMap Applied() const;

  // OK if the fold named `fold` serves (its keys follow the serving pass); UNAVAILABLE naming it
  // and its progress while it refolds; INVALID_ARGUMENT if the runner has no such fold.
  absl::Status Serving(absl::string_view fold) const;

  // One entry per fold, in construction order.
  std::vector<FoldStats> Stats() const;

  // Dead letters of all folds so far (since start).
  int64_t dead_letters() const;

  // Starts an online refold of `fold` (see the file comment): once this returns OK(true) the
  // fold's keys are cleared, Serving(fold) answers UNAVAILABLE, and the background pass refolds
  // it from the start of the log; it serves again once it has caught up. OK(false): the fold
  // already refolds (nothing done). NOT_FOUND for an unknown fold; FAILED_PRECONDITION if the
  // runner does not allow online rebuilds; UNAVAILABLE if it is not running or the store cannot
  // be written (the fold then refolds at the next start, or at the next Rebuild).
  absl::StatusOr<bool> Rebuild(absl::string_view fold);

  // Up to `limit` (> 0) stored dead letters of `fold` (of every fold if empty), ordered by fold
  // name, partition and offset, after `after` if set. NOT_FOUND for an unknown fold.
  absl::StatusOr<std::vector<DeadLetter>> DeadLetters(absl::string_view fold,
                                                      const std::optional<DeadLetterId>& after,
                                                      size_t limit) const;
  // NOT_FOUND for an unknown fold or dead letter.
  absl::StatusOr<DeadLetter> GetDeadLetter(const DeadLetterId& id) const;
  // Applies the dead letter's record through its fold again (out of its order: the fold has
  // moved past it) and, if that succeeds, removes the dead letter in the same write. Serialized
  // with the runner's writes. NOT_FOUND for an unknown fold or dead letter; FAILED_PRECONDITION
  // if the fold still rejects the record as undecodable (DATA_LOSS; the dead letter stays, the
  // message says why); UNAVAILABLE while the fold refolds (the refold makes its dead letters
  // again) or on store trouble; another error of the fold's Apply as it is.
  absl::Status RetryDeadLetter(const DeadLetterId& id);

  // How far the serving folds are behind the log, per partition, as of the last
  // MeasureProgress(). Offsets count every offset of the log (on Kafka also transaction
  // markers), so `lag` is the number of offsets, not exactly of events.
  struct PartitionProgress {
    int32_t partition = 0;
    int64_t applied = -1;  // last offset the serving folds applied (-1: none)
    int64_t end = 0;       // the log's end offset (next offset to be written) when measured
    int64_t lag = 0;       // max(0, end - 1 - applied)
    // How long the oldest offset not yet applied has been in the log, to the resolution of the
    // measurements (the time of the first measurement that saw it); zero when caught up.
    absl::Duration lag_time = absl::ZeroDuration();
  };
  struct Progress {
    absl::Time measured = absl::InfinitePast();  // when the log's ends were last read
    absl::Status log_status;                     // how the last reading of the log's ends went
    std::vector<PartitionProgress> partitions;
  };
  // Reads the log's end offsets (EventLog::EndOffset: a broker round trip on Kafka) and
  // returns (and keeps) the progress. Called periodically by the process's monitor
  // (apps/runtime) and by the admin service's status; thread-safe, concurrent calls take turns
  // (so the readings of the ends stay in time order).
  Progress MeasureProgress();
  // The progress as of the last MeasureProgress (with `applied` as of now). Thread-safe, cheap.
  Progress LastProgress() const;

  // Key prefix under which the runner keeps its own data in the store. Folds must not write keys
  // with this prefix.
  static constexpr absl::string_view kReservedPrefix =
      "\x01"
      "fold/";

 private:
  struct Entry {
    Fold* fold;
    bool refolding = false;  // guarded by mu_
    // An online rebuild (Rebuild) has taken the fold out of the serving pass. kClearing: its
    // keys are not yet cleared (`clear_running` while a Rebuild call clears them); kCleared:
    // they are, and the runner's thread has not yet reopened the refold pass for it. Either
    // way no pass applies to it.
    enum class RebuildState { kNone, kClearing, kCleared };
    RebuildState rebuild = RebuildState::kNone;  // guarded by mu_
    bool clear_running = false;                  // guarded by mu_
    eventlog::PositionMap applied;               // guarded by mu_
    std::atomic<int64_t> dead_letters{0};
    std::map<int32_t, int64_t> dead_by_partition;  // guarded by mu_
    std::atomic<int64_t> stored_dead_letters{0};
  };
  // One reader's pass over the log, for the serving folds or for the refolding ones.
  struct Pass {
    bool serving = true;
    std::unique_ptr<eventlog::LogReader> reader;
    // Records polled but not yet written because the last attempt failed; retried before polling
    // again. Used only by the applying thread (the runner's, or CatchUp's caller).
    std::vector<eventlog::LogRecord> pending;
    // partition -> last offset the pass has moved past. The serving pass's is applied_.
    eventlog::PositionMap position;
  };
  struct Waiter {
    eventlog::PositionMap positions;
    absl::Time deadline;
    std::function<bool()> cancelled;  // may be empty
    base::Promise<base::Done> promise;
  };

  bool Reached(const eventlog::PositionMap& positions) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `entry` folds in `pass`: serving folds in the serving pass, refolding ones (once
  // cleared) in the refold pass.
  static bool InPass(const Entry& entry, const Pass& pass) ABSL_SHARED_LOCKS_REQUIRED(mu_);
  Entry* FindEntry(absl::string_view fold) const;
  absl::StatusOr<DeadLetter> ReadDeadLetter(const DeadLetterId& id) const;
  // Completes the waiters whose positions are applied, whose deadline passed or whose caller
  // cancelled (all, if stopping).
  void NotifyWaiters();
  absl::Status CheckPartitions(const eventlog::PositionMap& positions) const;

  // Reads each fold's meta and positions; migrates the old layout; clears the folds to refold.
  absl::Status Load();
  absl::Status ClearFold(Entry& entry);
  // Opens `pass`'s reader after the lowest position of its folds.
  absl::Status OpenPass(Pass& pass);
  // Reads up to max_batch records and applies them to the pass's folds in one write. Returns
  // records applied.
  absl::StatusOr<size_t> ApplyOnce(Pass& pass, absl::Time deadline);
  // Applies `records` to the pass's folds (each skips what it has) in one write, and advances
  // the pass's position over them.
  absl::Status ApplyRecords(Pass& pass, const std::vector<eventlog::LogRecord>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  // If the refold pass has caught up with the serving pass, its folds join it.
  absl::Status JoinIfCaughtUp();
  bool AnyRefolding() const;
  void LogProgress(absl::string_view what);
  void Run();

  eventlog::EventLog* const log_;
  kv::KvStore* const store_;
  std::vector<std::unique_ptr<Entry>> entries_;
  const Options options_;

  // Serializes the writes of the serving pass (the runner's thread) with OfferCommitted.
  // Acquired before mu_.
  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Held by MeasureProgress while it reads the log's ends and records them.
  absl::Mutex measure_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  eventlog::PositionMap applied_ ABSL_GUARDED_BY(mu_);  // the serving pass's position
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set by Rebuild once a fold is cleared: the runner's thread reopens the refold pass (from
  // the lowest position of its folds, now including the cleared one) before it goes on, and no
  // fold joins the serving pass until then.
  bool reopen_refold_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;  // Start()ed and not stopped
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  // MeasureProgress's readings: per partition, (end offset, first time seen) of the ends seen
  // that are not yet applied, oldest first (plus the last end seen); and the last result.
  struct EndSample {
    int64_t end;
    absl::Time seen;
  };
  std::map<int32_t, std::vector<EndSample>> end_samples_ ABSL_GUARDED_BY(mu_);
  absl::Time measured_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status log_status_ ABSL_GUARDED_BY(mu_);
  // Computes the progress from end_samples_ and applied_ at `now`.
  Progress ProgressLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Used by the applying thread; their readers are opened and dropped under mu_ so that Stop can
  // close them from another thread.
  Pass serving_;
  Pass refold_;
  std::thread thread_;
};

}  // namespace crm::fold
