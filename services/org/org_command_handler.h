// OrgCommandHandler: executes the OrgService commands (departments, teams, staff, improvement
// actions) through the
// shared command::CommandExecutor, on the one stream "org" (command::kOrgStreamKey), with
// domain/org's pure Decide* rules.
//
// The rules read other aggregates (the department of a team, the manager chain of a person), so
// org commands are serialized: the org stream has one writer (the replica that owns it, see
// command::CommandRouter), and its commands lock the whole stream (Target::exclusive_stream) until
// their events reach the command state, so each decides on every earlier one's events and no two
// race into, for example, a reporting-line cycle. A referenced aggregate that is not found makes
// the handler sync the org stream once (command::CommandExecutor::SyncStream) and look again.
//
// Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/unary.h"
#include "crm/v1/org_service.pb.h"
#include "domain/improvement/improvement_action.h"
#include "domain/org/org_aggregate.h"
#include "services/command/command_executor.h"

namespace crm::services::org {

class OrgCommandHandler {
 public:
  // Does not take ownership. The executor's AggregateStateFold must include OrgKinds().
  explicit OrgCommandHandler(command::CommandExecutor* executor);

  base::Future<crm::v1::DepartmentCommandResponse> CreateDepartment(
      const crm::v1::CreateDepartmentRequest& request, const rpc::CallContext& call);
  base::Future<crm::v1::DepartmentCommandResponse> UpdateDepartment(
      const crm::v1::UpdateDepartmentRequest& request, const rpc::CallContext& call);
  base::Future<crm::v1::TeamCommandResponse> CreateTeam(const crm::v1::CreateTeamRequest& request,
                                                        const rpc::CallContext& call);
  base::Future<crm::v1::TeamCommandResponse> UpdateTeam(const crm::v1::UpdateTeamRequest& request,
                                                        const rpc::CallContext& call);
  base::Future<crm::v1::StaffCommandResponse> AddStaff(const crm::v1::AddStaffRequest& request,
                                                       const rpc::CallContext& call);
  base::Future<crm::v1::StaffCommandResponse> UpdateStaff(
      const crm::v1::UpdateStaffRequest& request, const rpc::CallContext& call);
  base::Future<crm::v1::StaffCommandResponse> DeactivateStaff(
      const crm::v1::DeactivateStaffRequest& request, const rpc::CallContext& call);
  base::Future<crm::v1::StaffCommandResponse> ReactivateStaff(
      const crm::v1::ReactivateStaffRequest& request, const rpc::CallContext& call);
  base::Future<crm::v1::TeamCommandResponse> RemoveTeam(const crm::v1::RemoveTeamRequest& request,
                                                        const rpc::CallContext& call);
  base::Future<crm::v1::DepartmentCommandResponse> RemoveDepartment(
      const crm::v1::RemoveDepartmentRequest& request, const rpc::CallContext& call);

  // Improvement actions (domain/improvement), on the org stream like the rest: they read staff.
  // A linked complaint not in the command state makes the handler sync its customer's stream
  // once and look again.
  using ImprovementResponse = crm::v1::ImprovementActionCommandResponse;
  base::Future<ImprovementResponse> RaiseImprovementAction(
      const crm::v1::RaiseImprovementActionRequest& request, const rpc::CallContext& call);
  base::Future<ImprovementResponse> LinkImprovementComplaints(
      const crm::v1::LinkImprovementComplaintsRequest& request, const rpc::CallContext& call);
  base::Future<ImprovementResponse> CompleteImprovementAction(
      const crm::v1::CompleteImprovementActionRequest& request, const rpc::CallContext& call);
  base::Future<ImprovementResponse> CancelImprovementAction(
      const crm::v1::CancelImprovementActionRequest& request, const rpc::CallContext& call);

 private:
  // Lookups over the command state, syncing the org stream once per command on a miss.
  domain::org::OrgLookup Lookup(absl::Time deadline, bool* synced) const;
  domain::improvement::ImprovementLookup ImprovementLookupFor(absl::Time deadline,
                                                              bool* synced) const;

  command::CommandExecutor* const executor_;
};

// The id a create request creates under: its own id field if set; else derived from its
// request_id (so a retry, on any replica, targets the same aggregate); else a new UUID.
std::string DepartmentIdFor(const crm::v1::CreateDepartmentRequest& request);
std::string TeamIdFor(const crm::v1::CreateTeamRequest& request);
std::string StaffIdFor(const crm::v1::AddStaffRequest& request);
std::string ImprovementActionIdFor(const crm::v1::RaiseImprovementActionRequest& request);

}  // namespace crm::services::org
