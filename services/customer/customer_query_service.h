// gRPC front end of the customer views: crm.v1.CustomerQueryService on the callback API with
// raw request bytes, handlers on an Executor.
//
// Read-your-writes: a request with a consistency_token first waits, within the caller's deadline
// (and at most Options::max_consistency_wait), until the projection has applied that position;
// DEADLINE_EXCEEDED if it has not by then. The customer views and the org views (the owner's team
// and department) are folds of the same runner, so one position covers both.
// Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/customer_service.grpc.pb.h"
#include "readmodel/customer/customer_views.h"
#include "services/access/org_authorizer.h"
#include "services/query/page_token.h"
#include "services/query/query_support.h"

namespace crm::services::customer {

// The query logic, without transport; the service below calls it.
class CustomerQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
    // The org chart of the same views (services/access/owner_place.h): every customer answered
    // shows the team and department its owner has now. Unset (unit tests of other rules): those
    // recorded at the assignment.
    access::OrgDirectory org;
  };
  // Does not take ownership. `views_runner` folds the log into the views `views` reads.
  CustomerQueries(const readmodel::customer::CustomerViews* views, fold::FoldRunner* views_runner,
                  Options options)
      : views_(views), views_runner_(views_runner), options_(options) {}

  absl::StatusOr<crm::v1::Customer> Get(const crm::v1::GetCustomerRequest& request,
                                        const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ListCustomersResponse> List(const crm::v1::ListCustomersRequest& request,
                                                      const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::SearchCustomersResponse> Search(
      const crm::v1::SearchCustomersRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::FindCustomersResponse> Find(const crm::v1::FindCustomersRequest& request,
                                                      const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::GetCustomerHistoryResponse> History(
      const crm::v1::GetCustomerHistoryRequest& request, const rpc::CallContext& call) const;

  // The consistency wait of these queries' calls, before their handlers run (query support).
  rpc::ServiceTable::PreWait TokenWait() const {
    return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
  }

 private:
  absl::Status AwaitToken(const std::string& token, const rpc::CallContext& call) const;
  // The customer as answered: its owner's team and department now.
  crm::v1::Customer Answer(crm::v1::Customer customer) const;

  const readmodel::customer::CustomerViews* const views_;
  fold::FoldRunner* const views_runner_;
  const Options options_;
};

class CustomerQueryService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  CustomerQueryService(const CustomerQueries* queries, rpc::Executor* executor);
};

}  // namespace crm::services::customer
