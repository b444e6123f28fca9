// gRPC front end of the analytics figures: crm.v1.AnalyticsService on the callback API with raw
// request bytes, handlers on an Executor. Figures are defined in docs/analytics.md.
//
// Read-your-writes: a request with a consistency_token first waits, within the caller's deadline
// (and at most Options::max_consistency_wait), until the views have applied that position;
// DEADLINE_EXCEEDED if they have not by then.
// Errors: INVALID_ARGUMENT (BadRequest naming the field) for a malformed scope, severity, stage,
// time, interval (an end not on a quarter hour, or not after the start), time zone (not in the
// system's tzdata) or token. A staff member, team or department the figures have never seen has all
// figures zero (the figures do not consult the organisation, so it is not NOT_FOUND). Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/analytics_service.grpc.pb.h"
#include "readmodel/analytics/analytics_views.h"
#include "services/query/query_support.h"
#include "services/survey/survey_query_service.h"

namespace crm::services::analytics {

// The query logic, without transport; the service below calls it.
class AnalyticsQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
  };
  // Does not take ownership. `views_runner` folds the log into the store `views` reads.
  AnalyticsQueries(const readmodel::analytics::AnalyticsViews* views,
                   fold::FoldRunner* views_runner, Options options)
      : views_(views), views_runner_(views_runner), options_(options) {}

  absl::StatusOr<crm::v1::ComplaintStats> GetComplaintStats(
      const crm::v1::GetComplaintStatsRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::SlaCompliance> GetSlaCompliance(
      const crm::v1::GetSlaComplianceRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ResponseTimes> GetResponseTimes(
      const crm::v1::GetResponseTimesRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::Satisfaction> GetSatisfaction(
      const crm::v1::GetSatisfactionRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::InteractionStats> GetInteractionStats(
      const crm::v1::GetInteractionStatsRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::RootCauseRanking> GetRootCauses(
      const crm::v1::GetRootCausesRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::StaffKpis> GetStaffKpis(const crm::v1::GetStaffKpisRequest& request,
                                                  const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::SalesStats> GetSalesStats(const crm::v1::GetSalesStatsRequest& request,
                                                    const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::Retention> GetRetention(const crm::v1::GetRetentionRequest& request,
                                                  const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ConversionTime> GetConversionTime(
      const crm::v1::GetConversionTimeRequest& request, const rpc::CallContext& call) const;

  // The consistency wait of these queries' calls, before their handlers run (query support).
  rpc::ServiceTable::PreWait TokenWait() const {
    return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
  }

 private:
  absl::Status AwaitToken(const std::string& token, const rpc::CallContext& call) const;

  const readmodel::analytics::AnalyticsViews* const views_;
  fold::FoldRunner* const views_runner_;
  const Options options_;
};

class AnalyticsQueryService final : public rpc::ServiceTable {
 public:
  // Does not take ownership. GetSurveyStats is answered by `surveys` (services/survey, the survey
  // fold's own views); without it the method is UNIMPLEMENTED.
  AnalyticsQueryService(const AnalyticsQueries* queries, rpc::Executor* executor,
                        const survey::SurveyQueries* surveys = nullptr);
};

}  // namespace crm::services::analytics
