// SlaWatcher: the deadline watcher. Appends ComplaintSlaBreached and the automatic
// ComplaintEscalated when a complaint's response or resolution deadline passes without its step
// done.
//
// Each scan reads the deadline index of the command-state store (complaint_kind.h: open
// deadlines by due time) up to the clock's now and, for each due deadline of a stream this
// replica writes (`owns`), runs the BreachSla command through the handler (and so through the
// command executor) with actor "crm/sla-watcher" and a request id derived from the complaint, the
// kind and the due time. Exactly once per deadline, across retries, restarts, races and
// replicas, because:
//   - only the replica that writes a customer's stream acts on its complaints (`owns`);
//   - the executor locks the complaint and dedups the request id (a retry after a crash between
//     append and answer returns the first answer);
//   - the rule itself records nothing for a deadline that is met, already breached, replaced by a
//     reopening or not yet passed.
// A deadline met late (step done after the due time, before a scan came round) gets its breach
// recorded by that step (domain/complaint), so no missed deadline goes unrecorded.
// A failing BreachSla is logged and retried on the next scan.
//
// Thread-safe: RunOnce may be called from any thread (tests call it directly); Start/Stop from
// one owner thread.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/kv/kv_store.h"
#include "crm/v1/complaint.pb.h"
#include "services/complaint/complaint_command_handler.h"

namespace crm::services::complaint {

class SlaWatcher {
 public:
  struct Options {
    // Real time between two scans of the background thread.
    absl::Duration scan_interval = absl::Seconds(5);
    // How long one BreachSla command may take.
    absl::Duration command_timeout = absl::Seconds(30);
    // At most this many due deadlines per scan; the rest wait for the next one.
    size_t max_per_scan = 1000;
  };

  // The actor recorded in the events the watcher appends.
  static constexpr char kActor[] = "crm/sla-watcher";

  // Does not take ownership. `command_state_store` is the store the handler's executor folds
  // into; `owns(stream_key)` tells whether this replica writes a customer's stream (null: all).
  SlaWatcher(ComplaintCommandHandler* handler, const kv::KvStore* command_state_store,
             const base::Clock* clock, std::function<bool(absl::string_view stream_key)> owns,
             Options options);
  ~SlaWatcher();  // Calls Stop().

  SlaWatcher(const SlaWatcher&) = delete;
  SlaWatcher& operator=(const SlaWatcher&) = delete;

  // Starts the background thread: RunOnce now, then every scan_interval. Idempotent.
  void Start();
  // Stops the thread and waits for it (an in-flight scan finishes first). Idempotent.
  void Stop();

  // One scan: every due deadline of an owned stream gets its BreachSla. Returns the first error
  // (after trying every deadline); the failed ones are retried by the next scan.
  absl::Status RunOnce();

  // The request id of the BreachSla of one deadline: a UUID derived from the complaint, the kind
  // and the due time (microseconds), the same on every replica and after every restart.
  static std::string RequestIdFor(absl::string_view complaint, crm::v1::SlaKind kind,
                                  absl::Time due);

 private:
  void Loop();

  ComplaintCommandHandler* const handler_;
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

}  // namespace crm::services::complaint
