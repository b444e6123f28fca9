// gRPC front end of the interaction views: crm.v1.InteractionQueryService on the callback API
// with raw request bytes, handlers on an Executor.
//
// Read-your-writes: a request with a consistency_token first waits, within the caller's deadline
// (and at most Options::max_consistency_wait), until the views have applied that position;
// DEADLINE_EXCEEDED if they have not by then. "Now" for overdue follow-ups comes from the
// injected clock.
// Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/interaction_service.grpc.pb.h"
#include "readmodel/customer/customer_views.h"
#include "readmodel/interaction/interaction_views.h"
#include "services/query/query_support.h"

namespace crm::services::interaction {

// The query logic, without transport; the service below calls it.
class InteractionQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
  };
  // Does not take ownership. `views` is the views store (interaction and customer views) that
  // `views_runner` folds the log into.
  InteractionQueries(const kv::KvStore* views, fold::FoldRunner* views_runner,
                     const base::Clock* clock, Options options)
      : interactions_(views),
        customers_(views),
        views_runner_(views_runner),
        clock_(clock),
        options_(options) {}

  // NOT_FOUND (reason INTERACTION_NOT_FOUND) if not in the views.
  absl::StatusOr<crm::v1::Interaction> Get(const crm::v1::GetInteractionRequest& request,
                                           const rpc::CallContext& call) const;
  // NOT_FOUND (reason CUSTOMER_NOT_FOUND) if the customer is not in the views.
  absl::StatusOr<crm::v1::ListInteractionsResponse> List(
      const crm::v1::ListInteractionsRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::GetCustomerTimelineResponse> Timeline(
      const crm::v1::GetCustomerTimelineRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ListFollowUpsResponse> FollowUps(
      const crm::v1::ListFollowUpsRequest& request, const rpc::CallContext& call) const;

  // The consistency wait of these queries' calls, before their handlers run (query support).
  rpc::ServiceTable::PreWait TokenWait() const {
    return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
  }

 private:
  absl::Status AwaitToken(const std::string& token, const rpc::CallContext& call) const;

  const readmodel::interaction::InteractionViews interactions_;
  const readmodel::customer::CustomerViews customers_;
  fold::FoldRunner* const views_runner_;
  const base::Clock* const clock_;
  const Options options_;
};

class InteractionQueryService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  InteractionQueryService(const InteractionQueries* queries, rpc::Executor* executor);
};

}  // namespace crm::services::interaction
