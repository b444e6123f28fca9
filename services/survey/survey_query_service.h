// The survey queries over the survey views (readmodel/survey): crm.v1.SurveyQueryService
// (GetSurvey, ListSurveys) and the figures of AnalyticsService.GetSurveyStats, which the
// analytics service registers from here (services/analytics).
//
// Read-your-writes: a request with a consistency_token first waits, within the caller's deadline
// (and at most Options::max_consistency_wait), until the views have applied that position.
// Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/analytics_service.pb.h"
#include "crm/v1/survey_service.grpc.pb.h"
#include "readmodel/customer/customer_views.h"
#include "readmodel/survey/survey_views.h"
#include "services/query/query_support.h"

namespace crm::services::survey {

class SurveyQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
  };
  // Does not take ownership. `views` is the views store (survey and customer views) that
  // `views_runner` folds the log into.
  SurveyQueries(const kv::KvStore* views, fold::FoldRunner* views_runner, Options options)
      : surveys_(views), customers_(views), views_runner_(views_runner), options_(options) {}

  // NOT_FOUND (reason SURVEY_NOT_FOUND) if not in the views; PERMISSION_DENIED to a caller who
  // reaches neither its staff member nor its customer's owner.
  absl::StatusOr<crm::v1::Survey> Get(const crm::v1::GetSurveyRequest& request,
                                      const rpc::CallContext& call) const;
  // NOT_FOUND (reason CUSTOMER_NOT_FOUND) if the customer is not in the views.
  absl::StatusOr<crm::v1::ListSurveysResponse> List(const crm::v1::ListSurveysRequest& request,
                                                    const rpc::CallContext& call) const;
  // AnalyticsService.GetSurveyStats.
  absl::StatusOr<crm::v1::SurveyStats> Stats(const crm::v1::GetSurveyStatsRequest& request,
                                             const rpc::CallContext& call) const;

  rpc::ServiceTable::PreWait TokenWait() const {
    return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
  }

 private:
  absl::Status AwaitToken(const std::string& token, const rpc::CallContext& call) const;

  const readmodel::survey::SurveyViews surveys_;
  const readmodel::customer::CustomerViews customers_;
  fold::FoldRunner* const views_runner_;
  const Options options_;
};

class SurveyQueryService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  SurveyQueryService(const SurveyQueries* queries, rpc::Executor* executor);
};

}  // namespace crm::services::survey
