// Org queries (crm.v1.OrgQueryService) over the views store that projections/org writes: get and
// list departments, teams and staff, the org chart with live workload, and the work queues of
// staff, teams and departments.
//
// Read-your-writes: a request with a consistency_token first waits, within the caller's deadline
// (and at most Options::max_consistency_wait), until the views runner has applied that position;
// DEADLINE_EXCEEDED if it has not by then. "Overdue" in the chart is measured against the
// injected clock at query time.
// Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/org_service.grpc.pb.h"
#include "readmodel/org/org_views.h"
#include "services/query/query_support.h"

namespace crm::services::org {

// The query logic, without transport; the service below calls it.
class OrgQueries {
 public:
  struct Options {
    absl::Duration max_consistency_wait = absl::Seconds(30);
  };
  // Does not take ownership. `views` is the views store that `views_runner` folds the log into
  // (with projections/org's OrgViewFold among its folds); `clock` gives "now" for overdue.
  OrgQueries(const kv::KvStore* views, fold::FoldRunner* views_runner, const base::Clock* clock,
             Options options);

  absl::StatusOr<crm::v1::Department> GetDepartment(const crm::v1::GetDepartmentRequest& request,
                                                    const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::Team> GetTeam(const crm::v1::GetTeamRequest& request,
                                        const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::Staff> GetStaff(const crm::v1::GetStaffRequest& request,
                                          const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ListDepartmentsResponse> ListDepartments(
      const crm::v1::ListDepartmentsRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ListTeamsResponse> ListTeams(const crm::v1::ListTeamsRequest& request,
                                                       const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ListStaffResponse> ListStaff(const crm::v1::ListStaffRequest& request,
                                                       const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::OrgChart> GetOrgChart(const crm::v1::GetOrgChartRequest& request,
                                                const rpc::CallContext& call) const;
  // The work queue of a staff member, team or department (readmodel/org/work_queue.h): their
  // open complaints and follow-ups by priority, then due time. INVALID_ARGUMENT naming parent,
  // page_size or page_token; PERMISSION_DENIED (before NOT_FOUND) if the caller does not reach
  // the scope (auth::Grant::ReachesScope); NOT_FOUND (TEAM_NOT_FOUND, DEPARTMENT_NOT_FOUND) for
  // a team or department not in the views. A team's or department's members are those of the
  // views now; overdue is against the clock at the call.
  absl::StatusOr<crm::v1::ListWorkItemsResponse> ListWorkItems(
      const crm::v1::ListWorkItemsRequest& request, const rpc::CallContext& call) const;

  // Improvement actions: NOT_FOUND (IMPROVEMENT_ACTION_NOT_FOUND); the list in id order with
  // optional state, root cause and owner filters.
  absl::StatusOr<crm::v1::ImprovementAction> GetImprovementAction(
      const crm::v1::GetImprovementActionRequest& request, const rpc::CallContext& call) const;
  absl::StatusOr<crm::v1::ListImprovementActionsResponse> ListImprovementActions(
      const crm::v1::ListImprovementActionsRequest& request, const rpc::CallContext& call) const;

  // The consistency wait of these queries' calls, before their handlers run (query support).
  rpc::ServiceTable::PreWait TokenWait() const {
    return query::ConsistencyPreWait(views_runner_, options_.max_consistency_wait);
  }

 private:
  absl::Status AwaitToken(const std::string& token, const rpc::CallContext& call) const;

  const readmodel::org::OrgViews views_;
  fold::FoldRunner* const views_runner_;
  const base::Clock* const clock_;
  const Options options_;
};

class OrgQueryService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  OrgQueryService(const OrgQueries* queries, rpc::Executor* executor);
};

}  // namespace crm::services::org
