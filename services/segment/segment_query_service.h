// gRPC front end of the segment figures: crm.v1.SegmentService on the callback API with raw
// request bytes, handlers on an Executor. Figures are defined in docs/analytics.md.
//
// Read-your-writes: a request with a consistency_token first waits, within the caller's deadline
// (and at most Options::max_consistency_wait), until the views have applied that position;
// DEADLINE_EXCEEDED if they have not by then. RFM is evaluated at the request's as_of, or at the
// injected clock's now.
// Errors: INVALID_ARGUMENT (BadRequest naming the field), NOT_FOUND (CUSTOMER_NOT_FOUND) for a
// customer the views do not know.
// Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "services/access/holders.h"
#include "common/rpc/unary.h"
#include "crm/v1/segment_service.grpc.pb.h"
#include "readmodel/segment/segment_views.h"
#include "services/query/query_support.h"

namespace crm::services::segment {

// The query logic, without transport; the service below calls it.
class SegmentQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
    // Who holds a customer (services/access/holders.h), for the access check of
    // GetCustomerValue; null: nobody.
    access::CustomerHolders customer_holders;
  };
  // Does not take ownership. `views_runner` folds the log into the store `views` reads; `clock`
  // gives the default as_of.
  SegmentQueries(const readmodel::segment::SegmentViews* views, fold::FoldRunner* views_runner,
                 const base::Clock* clock, Options options)
      : views_(views), views_runner_(views_runner), clock_(clock), options_(std::move(options)) {}

  absl::StatusOr<crm::v1::CustomerValue> GetCustomerValue(
      const crm::v1::GetCustomerValueRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::SegmentSizes> GetSegmentSizes(
      const crm::v1::GetSegmentSizesRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::LifecycleFunnel> GetLifecycleFunnel(
      const crm::v1::GetLifecycleFunnelRequest& request, const rpc::CallContext& call) const;

  // The consistency wait of these queries' calls, before their handlers run (query support).
  rpc::ServiceTable::PreWait TokenWait() const {
    return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
  }

 private:
  absl::Status AwaitToken(const std::string& token, const rpc::CallContext& call) const;

  const readmodel::segment::SegmentViews* const views_;
  fold::FoldRunner* const views_runner_;
  const base::Clock* const clock_;
  const Options options_;
};

class SegmentQueryService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  SegmentQueryService(const SegmentQueries* queries, rpc::Executor* executor);
};

}  // namespace crm::services::segment
