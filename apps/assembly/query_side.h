// QuerySide: everything a process needs to answer queries, assembled once for crm-server and
// crm-projector: one views store folded by one runner over every area's fold (customers,
// complaints, interactions and timeline, org, analytics, segments), and the query services.
// Each fold has its own name, version and position (common/fold/fold_runner.h): a fold whose
// version changed refolds in the background while the others serve; the queries over its views
// answer UNAVAILABLE (reason VIEW_REBUILDING) until it has caught up.
//
// Lifecycle: Create, CatchUp (before serving), Start (the fold runner thread), Stop (joins it;
// idempotent). Not thread-safe itself; the services it hands out are.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "grpcpp/grpcpp.h"
#include "projections/notification/notification_fold.h"
#include "services/access/org_authorizer.h"

namespace crm::assembly {

class QuerySide {
 public:
  struct Options {
    // "Now" of time-dependent answers (overdue, RFM recency).
    const base::Clock* clock = base::SystemClock::Get();
    // Which survey answers are low enough to notify (--notify-csat-max, --notify-nps-max).
    projections::notification::NotificationFold::Options notifications;
  };

  // Does not take ownership; all must outlive the QuerySide.
  static absl::StatusOr<std::unique_ptr<QuerySide>> Create(eventlog::EventLog* log,
                                                           kv::KvStore* store,
                                                           rpc::Executor* executor,
                                                           Options options);
  ~QuerySide();

  absl::Status CatchUp();
  absl::Status Start();
  // Publishes the notifications to `out` (services/notification/notification_relay.h) until
  // Stop. Not owned; must outlive the QuerySide. REQUIRES: Start() succeeded.
  void StartNotificationRelay(eventlog::EventLog* out);
  void Stop();

  std::vector<rpc::ServiceTable*> services() const;
  // The runner that folds the log into the store (for the process's monitor, metrics and admin
  // service).
  fold::FoldRunner* runner() const;
  // The org chart of the views, for authorization (services/access).
  services::access::OrgDirectory org() const;

 private:
  struct Parts;
  explicit QuerySide(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace crm::assembly
