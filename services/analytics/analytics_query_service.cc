#include "services/analytics/analytics_query_service.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "domain/org/org_names.h"
#include "readmodel/analytics/analytics_keys.h"
#include "services/query/query_support.h"

namespace crm::services::analytics {
namespace {

absl::Status CheckScope(const crm::v1::StaffScope& scope) {
  switch (scope.scope_case()) {
    case crm::v1::StaffScope::kStaffId:
      return domain::org::ValidateOrgId(scope.staff_id(), "scope.staff_id");
    case crm::v1::StaffScope::kTeam:
      return domain::org::ParseTeamName(scope.team(), "scope.team").status();
    case crm::v1::StaffScope::kDepartment:
      return domain::org::ParseDepartmentName(scope.department(), "scope.department").status();
    case crm::v1::StaffScope::SCOPE_NOT_SET:
      break;
  }
  return absl::OkStatus();
}

// Figures of a scope the caller does not reach (common/auth/grant.h): PERMISSION_DENIED.
absl::Status CheckReach(const crm::v1::StaffScope& scope, const rpc::CallContext& call) {
  const auth::Grant* grant = call.grant.get();
  if (grant == nullptr || grant->ReachesScope(scope.staff_id(), scope.team(), scope.department())) {
    return absl::OkStatus();
  }
  std::string what = "the whole organisation";
  if (!scope.staff_id().empty()) what = absl::StrCat("staff/", scope.staff_id());
  if (!scope.team().empty()) what = scope.team();
  if (!scope.department().empty()) what = scope.department();
  return status::Error(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("the caller may not see the figures of ", what),
                       "ACCESS_DENIED", {{"resource", what}});
}

}  // namespace

absl::Status AnalyticsQueries::AwaitToken(const std::string& token,
                                          const rpc::CallContext& call) const {
  return query::AwaitConsistencyToken(views_runner_, {readmodel::analytics::kFoldName}, token, call,
                                      options_.max_consistency_wait);
}

absl::StatusOr<crm::v1::ComplaintStats> AnalyticsQueries::GetComplaintStats(
    const crm::v1::GetComplaintStatsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(
      query::Window window,
      query::CheckWindow(request.has_start_time(), request.start_time(), "start_time",
                         request.has_end_time(), request.end_time(), "end_time"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetComplaintStats(window.start, window.end);
}

absl::StatusOr<crm::v1::SlaCompliance> AnalyticsQueries::GetSlaCompliance(
    const crm::v1::GetSlaComplianceRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetSlaCompliance();
}

absl::StatusOr<crm::v1::ResponseTimes> AnalyticsQueries::GetResponseTimes(
    const crm::v1::GetResponseTimesRequest& request, const rpc::CallContext& call) const {
  if (!crm::v1::ComplaintSeverity_IsValid(request.severity())) {
    return status::InvalidArgument("severity", "is not a known complaint severity");
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetResponseTimes(request.severity());
}

absl::StatusOr<crm::v1::Satisfaction> AnalyticsQueries::GetSatisfaction(
    const crm::v1::GetSatisfactionRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(CheckScope(request.scope()));
  CRM_RETURN_IF_ERROR(CheckReach(request.scope(), call));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetSatisfaction(request.scope());
}

absl::StatusOr<crm::v1::InteractionStats> AnalyticsQueries::GetInteractionStats(
    const crm::v1::GetInteractionStatsRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetInteractionStats();
}

absl::StatusOr<crm::v1::RootCauseRanking> AnalyticsQueries::GetRootCauses(
    const crm::v1::GetRootCausesRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetRootCauses();
}

absl::StatusOr<crm::v1::StaffKpis> AnalyticsQueries::GetStaffKpis(
    const crm::v1::GetStaffKpisRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(CheckScope(request.scope()));
  CRM_RETURN_IF_ERROR(CheckReach(request.scope(), call));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetStaffKpis(request.scope());
}

AnalyticsQueryService::AnalyticsQueryService(const AnalyticsQueries* queries,
                                             rpc::Executor* executor,
                                             const survey::SurveyQueries* surveys)
    : rpc::ServiceTable(crm::v1::AnalyticsService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("GetComplaintStats", queries, &AnalyticsQueries::GetComplaintStats);
  Unary("GetSlaCompliance", queries, &AnalyticsQueries::GetSlaCompliance);
  Unary("GetResponseTimes", queries, &AnalyticsQueries::GetResponseTimes);
  Unary("GetSatisfaction", queries, &AnalyticsQueries::GetSatisfaction);
  Unary("GetInteractionStats", queries, &AnalyticsQueries::GetInteractionStats);
  Unary("GetRootCauses", queries, &AnalyticsQueries::GetRootCauses);
  Unary("GetStaffKpis", queries, &AnalyticsQueries::GetStaffKpis);
  if (surveys != nullptr) Unary("GetSurveyStats", surveys, &survey::SurveyQueries::Stats);
}

}  // namespace crm::services::analytics
