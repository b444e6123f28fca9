#include "services/notification/notification_service.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "domain/org/org_names.h"
#include "services/query/page_token.h"
#include "services/query/query_support.h"

namespace crm::services::notification {
namespace {

namespace views = readmodel::notification;
using crm::v1::Notification;
using Part = rpc::ServiceTable::StreamPart<Notification>;

// The staff id of `parent` that the caller may read the notifications of.
absl::StatusOr<std::string> Recipient(absl::string_view parent, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(std::string staff_id, domain::org::ParseStaffName(parent, "parent"));
  const auth::Grant* grant = call.grant.get();
  if (grant != nullptr && !grant->everything() && grant->staff_id() != staff_id) {
    return auth::Denied(parent);
  }
  return staff_id;
}

}  // namespace

rpc::ServiceTable::PreWait NotificationQueries::TokenWait() const {
  return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
}

absl::StatusOr<crm::v1::ListNotificationsResponse> NotificationQueries::List(
    const crm::v1::ListNotificationsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string staff_id, Recipient(request.parent(), call));
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 50));
  CRM_ASSIGN_OR_RETURN(std::string cursor_text,
                       query::DecodePageToken(request.page_token(), "notifications", staff_id));
  CRM_ASSIGN_OR_RETURN(auto cursor, views::DecodeCursor(cursor_text, "page_token"));
  CRM_RETURN_IF_ERROR(query::AwaitConsistencyToken(views_runner_, {views::kFoldName},
                                                   request.consistency_token(), call,
                                                   options_.max_consistency_wait));
  CRM_ASSIGN_OR_RETURN(auto page, views_.After(staff_id, cursor, page_size));
  crm::v1::ListNotificationsResponse response;
  for (auto& n : page.notifications) *response.add_notifications() = std::move(n);
  if (page.more) {
    response.set_next_page_token(
        query::EncodePageToken("notifications", staff_id, views::EncodeCursor(page.cursor)));
  }
  return response;
}

absl::StatusOr<rpc::ServiceTable::StreamSource<Notification>> NotificationQueries::Watch(
    const crm::v1::WatchNotificationsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string staff_id, Recipient(request.parent(), call));
  CRM_ASSIGN_OR_RETURN(auto cursor, views::DecodeCursor(request.after(), "after"));
  struct State {
    std::string staff_id;
    views::NotificationCursor cursor;
    rpc::CallContext call;
  };
  auto state = std::make_shared<State>(State{std::move(staff_id), std::move(cursor), call});
  return [this, state]() -> base::Future<Part> {
    const rpc::CallContext& call = state->call;
    if (call.cancelled()) return absl::CancelledError("the call was cancelled");
    if (absl::Now() >= call.deadline) return absl::DeadlineExceededError("deadline passed");
    // The fold still serves (not refolding after a rebuild).
    CRM_RETURN_IF_ERROR(query::AwaitConsistencyToken(views_runner_, {views::kFoldName}, "", call,
                                                     options_.max_consistency_wait));
    // What the views had applied before the look: anything they apply after it wakes the wait.
    const eventlog::PositionMap applied = views_runner_->Applied();
    CRM_ASSIGN_OR_RETURN(auto page,
                         views_.After(state->staff_id, state->cursor, options_.watch_batch));
    if (!page.notifications.empty()) {
      state->cursor = std::move(page.cursor);
      return Part{.messages = std::move(page.notifications)};
    }
    const absl::Time until = std::min(call.deadline, absl::Now() + options_.watch_poll);
    base::Promise<Part> next;
    base::Future<Part> answer = next.future();
    query::WhenViewsAdvance(views_runner_, applied, until, call.cancelled)
        .OnReady([next = std::move(next)](absl::StatusOr<base::Done> waited) mutable {
          // The poll's own end (not the caller's deadline, checked at the next look) just means
          // "look again".
          if (waited.ok() || absl::IsDeadlineExceeded(waited.status())) {
            next.Set(Part{});
          } else {
            next.Set(waited.status());
          }
        });
    return answer;
  };
}

NotificationService::NotificationService(const NotificationQueries* queries,
                                         rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::NotificationService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("ListNotifications", queries, &NotificationQueries::List);
  ServerStream("WatchNotifications", queries, &NotificationQueries::Watch);
}

}  // namespace crm::services::notification
