// Monitor: what a process knows about itself, measured in one place and told three ways:
// readiness (grpc.health.v1, service ""), metrics (/metrics) and logs. The admin service reads
// the same measurements (FoldRunner::LastProgress).
//
// Every `interval` it measures each fold runner's progress against the log
// (FoldRunner::MeasureProgress: the log's end offsets; a broker round trip per partition on
// Kafka) and asks the log whether this process can write (EventLog::WriterStatus). The process
// is ready (SERVING) unless:
//   - a store's folds are further behind the log than `max_lag` (the oldest offset not yet
//     applied has been in the log longer than that): its answers would be too stale;
//   - it writes the log (command side) and cannot: a writer fenced by another process, or the log
//     unreachable (its end offsets cannot be read);
//   - it is draining (Serve sets every status NOT_SERVING at SIGTERM).
// A process that cannot reach the log but only reads it (crm-projector) stays ready while its
// views were caught up when last measured: its answers are as fresh as the log it can see, and
// the lag bound takes it out once it is known to be behind.
// Each change of readiness is logged with its reason.
//
// Liveness (health service "liveness", for the orchestrator's liveness probe) is NOT_SERVING
// only while a worker pool has had a call queued for longer than `stalled_after` (every worker
// stuck: a restart is the cure); outages and lag never touch it.
//
// Metrics set at each scrape (labels: store = the Process::Fold name, "views" or
// "command-state"; fold = a fold's name; partition):
//   crm_fold_applied_offset{store,partition}     last offset applied by the serving folds
//   crm_fold_log_end_offset{store,partition}     the log's end offset when last measured
//   crm_fold_lag_offsets{store,partition}        offsets in the log not yet applied
//   crm_fold_lag_seconds{store,partition}        age of the oldest offset not yet applied
//   crm_fold_dead_letters{store,fold,partition}  records a fold could not decode (since start)
//   crm_fold_unknown_records{store,fold}         records of types this build does not know
//   crm_fold_refolding{store,fold}               1 while a fold refolds in the background
//   crm_store_disk_bytes{store}                  bytes on disk of each store directory (and
//                                                "log" for the embedded engine)
//   crm_ready                                     1 when ready
//
// Thread-safe: Start/Stop from the owner; the hooks run on the metrics server's threads.
#pragma once

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/metrics/metrics.h"
#include "common/rpc/executor.h"
#include "common/rpc/health_service.h"

namespace crm::runtime {

class Monitor {
 public:
  struct Store {
    std::string name;
    fold::FoldRunner* runner;  // may be null: a store no runner folds
    std::string dir;           // its directory, for crm_store_disk_bytes
  };
  struct Options {
    absl::Duration interval = absl::Seconds(1);
    absl::Duration max_lag = absl::Seconds(30);
    absl::Duration stalled_after = absl::Seconds(60);
    // The worker pools liveness watches (rpc::Executor::OldestWait).
    std::vector<rpc::Executor*> executors;
  };
  // Does not take ownership. `writer`: the process appends to `log`. Readiness is set on the
  // health service "" and on each of `services` (the process's gRPC service names).
  Monitor(eventlog::EventLog* log, bool writer, std::vector<Store> stores,
          rpc::HealthService* health, std::vector<std::string> services, Options options);
  ~Monitor();  // Stop()

  // Measures once (so readiness is right from the first answer), then every interval.
  void Start();
  void Stop();

  // Why the process is not ready, or "" if it is (as of the last measurement).
  std::string NotReadyReason() const;

  // One round of measurements (Start runs one, then one every interval): readiness and
  // liveness. Public for tests, which drive it instead of waiting for the thread.
  void MeasureOnce();

 private:
  void CheckLiveness();
  void Collect();

  eventlog::EventLog* const log_;
  const bool writer_;
  const std::vector<Store> stores_;
  rpc::HealthService* const health_;
  const std::vector<std::string> services_;
  const Options options_;
  mutable absl::Mutex mu_;
  std::string not_ready_ ABSL_GUARDED_BY(mu_) = "not measured yet";
  bool first_ ABSL_GUARDED_BY(mu_) = true;
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification stop_;
  std::thread thread_;
  metrics::Registry::HookHandle hook_;
};

}  // namespace crm::runtime
