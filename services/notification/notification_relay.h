// NotificationRelay: publishes the notifications the views derive (the outbox, readmodel/
// notification "nt/o/") to an outbound log: on Kafka the topic "<prefix>.notifications.v1"
// (docs/kafka.md), one record per notification, key the recipient's staff id, value the
// serialized crm.v1.Notification (its cursor unset), headers record-type, content-type,
// notification-id, reason and ce_time.
//
// At least once: after each batch is acknowledged by the log (acks=all, idempotent producer) the
// relay records the outbox position it reached (key "nr/cursor" in the views store, outside every
// fold's prefix), so a crash re-publishes at most the batch it had not recorded; a refold of the
// views (online rebuild) derives the same notifications at the same positions, so nothing is
// published again; --rebuild drops the store and republishes everything. Consumers dedupe by
// notification id (the record's notification-id header, the name's last segment).
//
// Lifecycle: Start (a thread of its own), Stop (waits for it; idempotent). Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/metrics/metrics.h"
#include "readmodel/notification/notification_views.h"

namespace crm::services::notification {

class NotificationRelay {
 public:
  // Where the relay records what it published, in the views store.
  static constexpr char kCursorKey[] = "nr/cursor";
  static constexpr char kRecordType[] = "crm.v1.Notification";

  struct Options {
    size_t batch = 256;
    // How long an append may take before the batch is retried.
    absl::Duration append_timeout = absl::Seconds(30);
    // The longest the relay waits for the views before it looks again.
    absl::Duration poll = absl::Seconds(1);
  };
  // Does not take ownership; all must outlive the relay.
  NotificationRelay(kv::KvStore* views, fold::FoldRunner* views_runner, eventlog::EventLog* out,
                    Options options);
  ~NotificationRelay();  // Calls Stop().

  void Start();
  void Stop();

 private:
  void Run();
  // One look at the outbox: publishes what is new and records it. Returns whether it published.
  absl::StatusOr<bool> PublishNext(readmodel::notification::NotificationCursor& cursor);

  kv::KvStore* const views_;
  const readmodel::notification::NotificationViews reader_;
  fold::FoldRunner* const runner_;
  eventlog::EventLog* const out_;
  const Options options_;
  const metrics::Counter published_;
  const metrics::Counter failures_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace crm::services::notification
