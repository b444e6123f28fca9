#include "services/analytics/analytics_query_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "domain/common/field_checks.h"
#include "domain/customer/validation.h"
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

using query::CheckReportWindow;
using query::ReportWindow;

absl::Status CheckStage(crm::v1::LifecycleStage stage, absl::string_view field) {
  if (stage == crm::v1::LIFECYCLE_STAGE_UNSPECIFIED || !crm::v1::LifecycleStage_IsValid(stage)) {
    return status::InvalidArgument(field, "must be a known lifecycle stage");
  }
  return absl::OkStatus();
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
      query::Window buckets,
      query::CheckWindow(request.has_start_time(), request.start_time(), "start_time",
                         request.has_end_time(), request.end_time(), "end_time"));
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  if (request.has_interval() && (buckets.start.has_value() || buckets.end.has_value())) {
    return status::InvalidArgument(
        "start_time", "is not given with interval (interval limits every figure, buckets too)");
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetComplaintStats(report.window, report.zone, buckets.start, buckets.end);
}

absl::StatusOr<crm::v1::SlaCompliance> AnalyticsQueries::GetSlaCompliance(
    const crm::v1::GetSlaComplianceRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetSlaCompliance(report.window);
}

absl::StatusOr<crm::v1::ResponseTimes> AnalyticsQueries::GetResponseTimes(
    const crm::v1::GetResponseTimesRequest& request, const rpc::CallContext& call) const {
  if (!crm::v1::ComplaintSeverity_IsValid(request.severity())) {
    return status::InvalidArgument("severity", "is not a known complaint severity");
  }
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetResponseTimes(request.severity(), report.window);
}

absl::StatusOr<crm::v1::Satisfaction> AnalyticsQueries::GetSatisfaction(
    const crm::v1::GetSatisfactionRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(CheckScope(request.scope()));
  CRM_RETURN_IF_ERROR(CheckReach(request.scope(), call));
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetSatisfaction(request.scope(), report.window);
}

absl::StatusOr<crm::v1::InteractionStats> AnalyticsQueries::GetInteractionStats(
    const crm::v1::GetInteractionStatsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetInteractionStats(report.window);
}

absl::StatusOr<crm::v1::RootCauseRanking> AnalyticsQueries::GetRootCauses(
    const crm::v1::GetRootCausesRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetRootCauses(report.window);
}

absl::StatusOr<crm::v1::StaffKpis> AnalyticsQueries::GetStaffKpis(
    const crm::v1::GetStaffKpisRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(CheckScope(request.scope()));
  CRM_RETURN_IF_ERROR(CheckReach(request.scope(), call));
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetStaffKpis(request.scope(), report.window);
}

absl::StatusOr<crm::v1::SalesStats> AnalyticsQueries::GetSalesStats(
    const crm::v1::GetSalesStatsRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(CheckScope(request.scope()));
  // As a purchase's product may be (domain/customer/validation.h), or empty: every product.
  CRM_RETURN_IF_ERROR(domain::ValidateText(request.product(), domain::customer::kMaxProduct,
                                           /*required=*/false, "product"));
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(CheckReach(request.scope(), call));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetSalesStats(
      request.scope(), request.product(), report.window,
      request.with_buckets() ? std::optional<absl::TimeZone>(report.zone) : std::nullopt);
}

absl::StatusOr<crm::v1::Retention> AnalyticsQueries::GetRetention(
    const crm::v1::GetRetentionRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetRetention(report.window);
}

absl::StatusOr<crm::v1::ConversionTime> AnalyticsQueries::GetConversionTime(
    const crm::v1::GetConversionTimeRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(CheckStage(request.from_stage(), "from_stage"));
  CRM_RETURN_IF_ERROR(CheckStage(request.to_stage(), "to_stage"));
  if (request.from_stage() == request.to_stage()) {
    return status::InvalidArgument("to_stage", "must differ from from_stage");
  }
  CRM_ASSIGN_OR_RETURN(ReportWindow report, CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetConversionTime(request.from_stage(), request.to_stage(), report.window);
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
  Unary("GetSalesStats", queries, &AnalyticsQueries::GetSalesStats);
  Unary("GetRetention", queries, &AnalyticsQueries::GetRetention);
  Unary("GetConversionTime", queries, &AnalyticsQueries::GetConversionTime);
  if (surveys != nullptr) Unary("GetSurveyStats", surveys, &survey::SurveyQueries::Stats);
}

}  // namespace crm::services::analytics
