// gRPC front end of the complaint views: crm.v1.ComplaintQueryService (GetComplaint,
// GetComplaintHistory, ListComplaints) on the callback API with raw request bytes, handlers on an
// Executor. ComplaintQueries is the logic without transport; ComplaintQueryService serves it.
//
// Read-your-writes: a request with a consistency_token first waits, within the caller's deadline
// (and at most Options::max_consistency_wait), until the views' FoldRunner has applied that
// position; DEADLINE_EXCEEDED (reason CONSISTENCY_WAIT_EXCEEDED) if it has not by then.
// Errors: INVALID_ARGUMENT naming the field (name, parent, assignee, status, category, severity,
// page_size, page_token, consistency_token), NOT_FOUND (reason COMPLAINT_NOT_FOUND).
// Thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/complaint_query_service.grpc.pb.h"
#include "readmodel/complaint/complaint_views.h"
#include "services/access/holders.h"
#include "services/query/query_support.h"

namespace crm::services::complaint {

// A complaint resource name split into its ids.
struct ComplaintIds {
  std::string customer_id;
  std::string complaint_id;
};
// "customers/{customer_id}/complaints/{complaint_id}", both ids 1 to 63 of [a-z0-9-] not
// starting or ending with '-'. INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<ComplaintIds> ParseComplaintName(absl::string_view name, absl::string_view field);

// The query logic, without transport; the service below calls it.
class ComplaintQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
    // The owner of a complaint's customer, who reaches the complaint besides its assignee
    // (services/access/holders.h); null: none.
    access::CustomerHolders customer_holders;
  };
  // Does not take ownership; both must outlive this. `views_runner` folds the log into the store
  // `views` reads (overdue is evaluated with the views' clock).
  ComplaintQueries(const readmodel::complaint::ComplaintViews* views,
                   fold::FoldRunner* views_runner, Options options)
      : views_(views), views_runner_(views_runner), options_(std::move(options)) {}
  ComplaintQueries(const readmodel::complaint::ComplaintViews* views,
                   fold::FoldRunner* views_runner)
      : ComplaintQueries(views, views_runner, Options{}) {}

  absl::StatusOr<crm::v1::Complaint> Get(const crm::v1::GetComplaintRequest& request,
                                         const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::GetComplaintHistoryResponse> History(
      const crm::v1::GetComplaintHistoryRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ListComplaintsResponse> List(
      const crm::v1::ListComplaintsRequest& request, const rpc::CallContext& call) const;

  // The consistency wait of these queries' calls, before their handlers run (query support).
  rpc::ServiceTable::PreWait TokenWait() const {
    return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
  }

 private:
  // Whether the caller reaches `complaint` (common/auth/grant.h).
  bool Visible(const crm::v1::Complaint& complaint, const rpc::CallContext& call) const;
  // The complaint named `name` if the caller reaches it; PERMISSION_DENIED if not, whether or
  // not it exists; NOT_FOUND to a caller who reaches every row.
  absl::StatusOr<crm::v1::Complaint> Reached(const std::string& name,
                                             const rpc::CallContext& call) const;
  absl::Status AwaitToken(const std::string& token, const rpc::CallContext& call) const;

  const readmodel::complaint::ComplaintViews* const views_;
  fold::FoldRunner* const views_runner_;
  const Options options_;
};

class ComplaintQueryService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  ComplaintQueryService(const ComplaintQueries* queries, rpc::Executor* executor);
};

}  // namespace crm::services::complaint
