#include "services/survey/survey_query_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/survey/survey_aggregate.h"
#include "readmodel/customer/view_keys.h"
#include "services/access/holders.h"
#include "services/query/customer_reach.h"
#include "services/query/page_token.h"

namespace crm::services::survey {

absl::Status SurveyQueries::AwaitToken(const std::string& token,
                                       const rpc::CallContext& call) const {
  return query::AwaitConsistencyToken(
      views_runner_, {readmodel::survey::kFoldName, readmodel::customer::kFoldName}, token, call,
      options_.max_consistency_wait);
}

absl::StatusOr<crm::v1::Survey> SurveyQueries::Get(const crm::v1::GetSurveyRequest& request,
                                                   const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(auto name, domain::survey::ParseSurveyName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto survey, surveys_.Get(request.name()));
  const auth::Grant* grant = call.grant.get();
  if (grant != nullptr && !grant->everything()) {
    // Its staff member's reach, or its customer's owner's.
    bool reached = survey.has_value() && grant->Reaches(access::HoldersOf(*survey));
    if (survey.has_value() && !reached) {
      CRM_ASSIGN_OR_RETURN(auto customer, customers_.Get(name.customer_id));
      reached = customer.has_value() && grant->Reaches(access::HoldersOf(*customer));
    }
    if (!reached) return auth::Denied(request.name());
  }
  if (!survey.has_value()) {
    return query::NotFound(request.name(), "SURVEY_NOT_FOUND", "crm.v1.Survey");
  }
  return *std::move(survey);
}

absl::StatusOr<crm::v1::ListSurveysResponse> SurveyQueries::List(
    const crm::v1::ListSurveysRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id,
                       domain::customer::ParseCustomerName(request.parent(), "parent"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 50));
  if (!crm::v1::SurveyState_IsValid(request.state())) {
    return status::InvalidArgument("state", "is not a known survey state");
  }
  const std::string fingerprint = absl::StrCat(id, "|", request.state());
  CRM_ASSIGN_OR_RETURN(std::string cursor,
                       query::DecodePageToken(request.page_token(), "surveys", fingerprint));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_RETURN_IF_ERROR(query::CheckCustomer(customers_, id, request.parent(), call));
  CRM_ASSIGN_OR_RETURN(auto page, surveys_.ListForCustomer(id, request.state(), cursor, page_size));
  crm::v1::ListSurveysResponse response;
  for (auto& s : page.surveys) *response.add_surveys() = std::move(s);
  if (!page.next_cursor.empty()) {
    response.set_next_page_token(query::EncodePageToken("surveys", fingerprint, page.next_cursor));
  }
  return response;
}

absl::StatusOr<crm::v1::SurveyStats> SurveyQueries::Stats(
    const crm::v1::GetSurveyStatsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(query::ReportWindow report, query::CheckReportWindow(request));
  CRM_RETURN_IF_ERROR(query::AwaitConsistencyToken(views_runner_, {readmodel::survey::kFoldName},
                                                   request.consistency_token(), call,
                                                   options_.max_consistency_wait));
  return surveys_.Stats(report.window);
}

SurveyQueryService::SurveyQueryService(const SurveyQueries* queries, rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::SurveyQueryService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("GetSurvey", queries, &SurveyQueries::Get);
  Unary("ListSurveys", queries, &SurveyQueries::List);
  AuditReads({"GetSurvey", "ListSurveys"});
}

}  // namespace crm::services::survey
