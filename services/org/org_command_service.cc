#include "services/org/org_command_service.h"

namespace crm::services::org {
namespace {

// Every org command is on the stream "org"; creates fix their id first, so every replica creates
// under the same one.
template <typename Req>
std::string OrgStream(Req&) {
  return command::kOrgStreamKey;
}

}  // namespace

OrgCommandService::OrgCommandService(OrgCommandHandler* handler, command::CommandRouter* router,
                                     rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::OrgService::service_full_name(), executor, router) {
  Routed("CreateDepartment", handler, &OrgCommandHandler::CreateDepartment,
         [](crm::v1::CreateDepartmentRequest& request) {
           request.set_department_id(DepartmentIdFor(request));
           return std::string(command::kOrgStreamKey);
         });
  Routed("UpdateDepartment", handler, &OrgCommandHandler::UpdateDepartment,
         OrgStream<crm::v1::UpdateDepartmentRequest>);
  Routed("CreateTeam", handler, &OrgCommandHandler::CreateTeam,
         [](crm::v1::CreateTeamRequest& request) {
           request.set_team_id(TeamIdFor(request));
           return std::string(command::kOrgStreamKey);
         });
  Routed("UpdateTeam", handler, &OrgCommandHandler::UpdateTeam,
         OrgStream<crm::v1::UpdateTeamRequest>);
  Routed("AddStaff", handler, &OrgCommandHandler::AddStaff, [](crm::v1::AddStaffRequest& request) {
    request.set_staff_id(StaffIdFor(request));
    return std::string(command::kOrgStreamKey);
  });
  Routed("UpdateStaff", handler, &OrgCommandHandler::UpdateStaff,
         OrgStream<crm::v1::UpdateStaffRequest>);
  Routed("DeactivateStaff", handler, &OrgCommandHandler::DeactivateStaff,
         OrgStream<crm::v1::DeactivateStaffRequest>);
  Routed("ReactivateStaff", handler, &OrgCommandHandler::ReactivateStaff,
         OrgStream<crm::v1::ReactivateStaffRequest>);
  Routed("RemoveTeam", handler, &OrgCommandHandler::RemoveTeam,
         OrgStream<crm::v1::RemoveTeamRequest>);
  Routed("RemoveDepartment", handler, &OrgCommandHandler::RemoveDepartment,
         OrgStream<crm::v1::RemoveDepartmentRequest>);
  Routed("RaiseImprovementAction", handler, &OrgCommandHandler::RaiseImprovementAction,
         [](crm::v1::RaiseImprovementActionRequest& request) {
           request.set_improvement_action_id(ImprovementActionIdFor(request));
           return std::string(command::kOrgStreamKey);
         });
  Routed("LinkImprovementComplaints", handler, &OrgCommandHandler::LinkImprovementComplaints,
         OrgStream<crm::v1::LinkImprovementComplaintsRequest>);
  Routed("CompleteImprovementAction", handler, &OrgCommandHandler::CompleteImprovementAction,
         OrgStream<crm::v1::CompleteImprovementActionRequest>);
  Routed("CancelImprovementAction", handler, &OrgCommandHandler::CancelImprovementAction,
         OrgStream<crm::v1::CancelImprovementActionRequest>);
}

}  // namespace crm::services::org
