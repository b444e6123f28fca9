#include "services/interaction/interaction_query_service.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "domain/common/field_checks.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/interaction/interaction_aggregate.h"
#include "google/protobuf/util/time_util.h"
#include "readmodel/customer/view_keys.h"
#include "readmodel/interaction/view_keys.h"
#include "services/access/holders.h"
#include "services/interaction/timeline_text.h"
#include "services/query/customer_reach.h"
#include "services/query/page_token.h"
#include "services/query/query_support.h"

namespace crm::services::interaction {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

std::string Token(const std::string& cursor, absl::string_view kind,
                  absl::string_view fingerprint) {
  return cursor.empty() ? "" : query::EncodePageToken(kind, fingerprint, cursor);
}

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() < b.seconds() : a.nanos() < b.nanos();
}

}  // namespace

absl::Status InteractionQueries::AwaitToken(const std::string& token,
                                            const rpc::CallContext& call) const {
  return query::AwaitConsistencyToken(
      views_runner_, {readmodel::interaction::kFoldName, readmodel::customer::kFoldName}, token,
      call, options_.max_consistency_wait);
}

absl::StatusOr<crm::v1::Interaction> InteractionQueries::Get(
    const crm::v1::GetInteractionRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(auto name,
                       domain::interaction::ParseInteractionName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto interaction, interactions_.Get(request.name()));
  const auth::Grant* grant = call.grant.get();
  if (grant != nullptr && !grant->everything()) {
    // Its staff member's reach, or its customer's owner's.
    bool reached = interaction.has_value() && grant->Reaches(access::HoldersOf(*interaction));
    if (interaction.has_value() && !reached) {
      CRM_ASSIGN_OR_RETURN(auto customer, customers_.Get(name.customer_id));
      reached = customer.has_value() && grant->Reaches(access::HoldersOf(*customer));
    }
    if (!reached) return auth::Denied(request.name());
  }
  if (!interaction.has_value()) {
    return status::Error(absl::StatusCode::kNotFound,
                         absl::StrCat(request.name(), " does not exist"), "INTERACTION_NOT_FOUND",
                         {{"name", request.name()}});
  }
  return *interaction;
}

absl::StatusOr<crm::v1::ListInteractionsResponse> InteractionQueries::List(
    const crm::v1::ListInteractionsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id,
                       domain::customer::ParseCustomerName(request.parent(), "parent"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 50));
  if (!crm::v1::Channel_IsValid(request.channel())) {
    return status::InvalidArgument("channel", "is not a known channel");
  }
  const std::string fingerprint = absl::StrCat(id, "|", request.channel());
  CRM_ASSIGN_OR_RETURN(std::string cursor,
                       query::DecodePageToken(request.page_token(), "interactions", fingerprint));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_RETURN_IF_ERROR(query::CheckCustomer(customers_, id, request.parent(), call));
  CRM_ASSIGN_OR_RETURN(auto page,
                       interactions_.ListForCustomer(id, request.channel(), cursor, page_size));
  crm::v1::ListInteractionsResponse response;
  for (auto& i : page.interactions) *response.add_interactions() = std::move(i);
  response.set_next_page_token(Token(page.next_cursor, "interactions", fingerprint));
  return response;
}

absl::StatusOr<crm::v1::GetCustomerTimelineResponse> InteractionQueries::Timeline(
    const crm::v1::GetCustomerTimelineRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id,
                       domain::customer::ParseCustomerName(request.parent(), "parent"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 100));
  std::set<crm::v1::TimelineEntryKind> kinds;
  for (int i = 0; i < request.kinds_size(); ++i) {
    const auto kind = request.kinds(i);
    if (kind == crm::v1::TIMELINE_ENTRY_KIND_UNSPECIFIED ||
        !crm::v1::TimelineEntryKind_IsValid(kind)) {
      return status::InvalidArgument(absl::StrCat("kinds[", i, "]"),
                                     "is not a known timeline entry kind");
    }
    kinds.insert(kind);
  }
  CRM_ASSIGN_OR_RETURN(TextLanguage language,
                       ParseTextLanguage(request.language_code(), "language_code"));
  const std::string fingerprint = absl::StrCat(id, "|", absl::StrJoin(kinds, ","));
  CRM_ASSIGN_OR_RETURN(std::string cursor,
                       query::DecodePageToken(request.page_token(), "timeline", fingerprint));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_RETURN_IF_ERROR(query::CheckCustomer(customers_, id, request.parent(), call));
  CRM_ASSIGN_OR_RETURN(auto page, interactions_.Timeline(id, kinds, cursor, page_size));
  crm::v1::GetCustomerTimelineResponse response;
  for (auto& e : page.entries) {
    e.set_summary(TimelineText(e.event(), language));
    *response.add_entries() = std::move(e);
  }
  response.set_next_page_token(Token(page.next_cursor, "timeline", fingerprint));
  response.set_language_code(std::string(LanguageCode(language)));
  return response;
}

absl::StatusOr<crm::v1::ListFollowUpsResponse> InteractionQueries::FollowUps(
    const crm::v1::ListFollowUpsRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(crm::domain::ValidateStaffId(request.staff_id(), "staff_id"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 50));
  if (request.has_due_before() && !base::IsValidTimestamp(request.due_before())) {
    return status::InvalidArgument("due_before", "is not a valid timestamp");
  }
  const std::string fingerprint =
      absl::StrCat(request.staff_id(), "|",
                   request.has_due_before() ? TimeUtil::ToString(request.due_before()) : "", "|",
                   request.overdue_only() ? "overdue" : "");
  CRM_ASSIGN_OR_RETURN(std::string cursor,
                       query::DecodePageToken(request.page_token(), "follow-ups", fingerprint));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  // A work queue: the caller must reach the staff member whose queue it is.
  CRM_RETURN_IF_ERROR(auth::CheckReach(call.grant.get(), {request.staff_id()},
                                       absl::StrCat("staff/", request.staff_id())));

  const Timestamp now = base::ToTimestamp(clock_->Now());
  std::optional<Timestamp> bound;
  if (request.has_due_before()) bound = request.due_before();
  if (request.overdue_only() && (!bound.has_value() || Before(now, *bound))) bound = now;
  CRM_ASSIGN_OR_RETURN(auto page,
                       interactions_.FollowUps(request.staff_id(), bound, cursor, page_size));
  crm::v1::ListFollowUpsResponse response;
  for (auto& i : page.interactions) {
    crm::v1::FollowUp* follow_up = response.add_follow_ups();
    follow_up->set_overdue(Before(i.follow_up_due_time(), now));
    *follow_up->mutable_interaction() = std::move(i);
  }
  response.set_next_page_token(Token(page.next_cursor, "follow-ups", fingerprint));
  *response.mutable_now() = now;
  return response;
}

InteractionQueryService::InteractionQueryService(const InteractionQueries* queries,
                                                 rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::InteractionQueryService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("GetInteraction", queries, &InteractionQueries::Get);
  Unary("ListInteractions", queries, &InteractionQueries::List);
  Unary("GetCustomerTimeline", queries, &InteractionQueries::Timeline);
  Unary("ListFollowUps", queries, &InteractionQueries::FollowUps);
  AuditReads({"GetInteraction", "ListInteractions", "GetCustomerTimeline", "ListFollowUps"});
}

}  // namespace crm::services::interaction
