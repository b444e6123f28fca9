// The notification queries over the notification views (readmodel/notification):
// crm.v1.NotificationService. ListNotifications pages through a staff member's notifications;
// WatchNotifications replays those after a cursor and then follows the views, writing each new
// one as the fold derives it: after each empty look it waits, holding no worker, until the views
// apply anything new (FoldRunner::WhenApplied, per partition), and looks again.
//
// Who may read: a caller whose grant reaches everything (admins, directors, service accounts, or
// no authorization at all), or the staff member the notifications are addressed to.
// PERMISSION_DENIED (ACCESS_DENIED) otherwise.
//
// Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/notification_service.grpc.pb.h"
#include "readmodel/notification/notification_views.h"

namespace crm::services::notification {

class NotificationQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
    // Notifications a Watch writes per look at the views.
    size_t watch_batch = 100;
    // The longest a Watch waits for the views before it looks again (and checks that its fold
    // still serves).
    absl::Duration watch_poll = absl::Seconds(10);
  };
  // Does not take ownership. `views` is the store `views_runner` folds the log into.
  NotificationQueries(const kv::KvStore* views, fold::FoldRunner* views_runner, Options options)
      : views_(views), views_runner_(views_runner), options_(options) {}

  // INVALID_ARGUMENT for a malformed parent, page size or token.
  absl::StatusOr<crm::v1::ListNotificationsResponse> List(
      const crm::v1::ListNotificationsRequest& request, const rpc::CallContext& call) const;
  // INVALID_ARGUMENT for a malformed parent or cursor. The stream ends with CANCELLED or
  // DEADLINE_EXCEEDED when the caller goes or its deadline passes, UNAVAILABLE (VIEW_REBUILDING)
  // if the notification views are rebuilt meanwhile (resume with the last cursor).
  absl::StatusOr<rpc::ServiceTable::StreamSource<crm::v1::Notification>> Watch(
      const crm::v1::WatchNotificationsRequest& request, const rpc::CallContext& call) const;

  rpc::ServiceTable::PreWait TokenWait() const;

 private:
  const readmodel::notification::NotificationViews views_;
  fold::FoldRunner* const views_runner_;
  const Options options_;
};

class NotificationService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  NotificationService(const NotificationQueries* queries, rpc::Executor* executor);
};

}  // namespace crm::services::notification
