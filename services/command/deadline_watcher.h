// DeadlineWatcher: the server's one deadline watcher. Every scan_interval it reads the deadline
// indexes of the command-state store up to the clock's now and runs, for each due deadline of a
// stream this replica writes (`owns`), the command its source names (through the command
// executor, with actor "crm/sla-watcher" and a request id derived from the deadline).
//
// A DeadlineSource is one kind of deadline: complaint SLA deadlines (services/complaint
// SlaDeadlines: ComplaintSlaBreached and the automatic escalation), survey answer deadlines
// (services/survey SurveyDeadlines: SurveyExpired), and the reminders that a deadline comes due
// (services/complaint SlaReminders: ComplaintDeadlineApproaching; services/interaction
// FollowUpReminders: FollowUpDueSoon), which read an index up to now + their lead. Each keeps an
// index in the command-state store, written by its AggregateKind's Index in the same batch as the
// aggregate's state:
//   <source prefix><due time: 20-digit unix microseconds>/<rest of the key>
// holding exactly the open deadlines, so a scan from the prefix up to now finds the due ones,
// oldest first.
//
// Exactly once per deadline, across retries, restarts, races and replicas, because only the
// replica that writes a stream acts on it (`owns`), the executor locks the aggregate and dedups
// the request id, and each source's rule records nothing for a deadline that is met, already
// acted on or not yet passed. A failing command is logged and retried on the next scan.
//
// Thread-safe: RunOnce may be called from any thread (tests call it directly); Start/Stop from one
// owner thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/kv/kv_store.h"
#include "common/rpc/unary.h"

namespace crm::services::command {

// One kind of deadline. Implementations are immutable (thread-safe).
class DeadlineSource {
 public:
  // A due deadline, parsed from its index entry.
  struct Due {
    // The stream the command writes (the customer id): the watcher skips streams it does not own.
    std::string stream_key;
    // For logs, e.g. "RESPONSE deadline of customers/a/complaints/1".
    std::string what;
    // Runs the deadline's command; returns what it appended, for the log ("" if nothing). Null:
    // nothing to do for this entry (e.g. a reminder already recorded); skipped, not counted.
    std::function<absl::StatusOr<std::string>(const rpc::CallContext& call)> act;
  };
  virtual ~DeadlineSource() = default;
  // The index prefix, e.g. "sla/". Disjoint from every other key prefix of the store.
  virtual absl::string_view prefix() const = 0;
  // DATA_LOSS if the entry is malformed.
  virtual absl::StatusOr<Due> Parse(absl::string_view key, absl::string_view value) const = 0;
  // How long before its due time an entry is acted on: zero for a deadline that passed (a
  // breach, an expiry: every entry due up to now is read), the reminder lead for a reminder
  // source (only entries due from now to now + lead are read: a passed one is not reminded).
  virtual absl::Duration lead() const { return absl::ZeroDuration(); }
};

// "<prefix><20-digit due micros>/<rest>". Times before 1970 sort as 1970.
std::string DeadlineIndexKey(absl::string_view prefix, absl::Time due, absl::string_view rest);
// The first key after every deadline of `prefix` due at or before `t` (a scan's exclusive end).
std::string DeadlineIndexScanEnd(absl::string_view prefix, absl::Time t);
// The first key of a deadline of `prefix` due at or after `t` (a scan's inclusive start).
std::string DeadlineIndexScanStart(absl::string_view prefix, absl::Time t);
// The rest of an index key after its time ("" and false if `key` is not "<prefix><20 digits>/").
bool DeadlineIndexRest(absl::string_view key, absl::string_view prefix, absl::string_view* rest);

class DeadlineWatcher {
 public:
  struct Options {
    // Real time between two scans of the background thread.
    absl::Duration scan_interval = absl::Seconds(5);
    // How long one deadline's command may take.
    absl::Duration command_timeout = absl::Seconds(30);
    // At most this many due deadlines per scan (over all sources); the rest wait for the next.
    size_t max_per_scan = 1000;
  };

  // The actor recorded in the events the watcher appends.
  static constexpr char kActor[] = "crm/sla-watcher";

  // Does not take ownership. `command_state_store` is the store the sources' kinds index into;
  // `owns(stream_key)` tells whether this replica writes a customer's stream (null: all).
  DeadlineWatcher(std::vector<const DeadlineSource*> sources,
                  const kv::KvStore* command_state_store, const base::Clock* clock,
                  std::function<bool(absl::string_view stream_key)> owns, Options options);
  ~DeadlineWatcher();  // Calls Stop().

  DeadlineWatcher(const DeadlineWatcher&) = delete;
  DeadlineWatcher& operator=(const DeadlineWatcher&) = delete;

  // Starts the background thread: RunOnce now, then every scan_interval. Idempotent.
  void Start();
  // Stops the thread and waits for it (an in-flight scan finishes first). Idempotent.
  void Stop();

  // One scan: every due deadline of an owned stream gets its command. Returns the first error
  // (after trying every deadline); the failed ones are retried by the next scan.
  absl::Status RunOnce();

 private:
  void Loop();

  const std::vector<const DeadlineSource*> sources_;
  const kv::KvStore* const store_;
  const base::Clock* const clock_;
  const std::function<bool(absl::string_view)> owns_;
  const Options options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  // Serializes scans (the thread and direct callers).
  absl::Mutex scan_mu_;
};

}  // namespace crm::services::command
