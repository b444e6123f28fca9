#include "services/org/org_command_service.h"

#include "services/command/routed_serve.h"

namespace crm::services::org {
namespace {

// Every org command is on the stream "org".
template <typename Req>
std::string OrgStream(Req&) {
  return command::kOrgStreamKey;
}

}  // namespace

grpc::ServerUnaryReactor* OrgCommandService::CreateDepartment(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* in,
                                                              grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::CreateDepartmentRequest, crm::v1::DepartmentCommandResponse>(
      ctx, in, out, executor_, router_, "/crm.v1.OrgService/CreateDepartment",
      [](crm::v1::CreateDepartmentRequest& request) {
        // Fixed before forwarding, so every replica creates under the same id.
        request.set_department_id(DepartmentIdFor(request));
        return std::string(command::kOrgStreamKey);
      },
      [this](const auto& request, const auto& call) {
        return handler_->CreateDepartment(request, call);
      });
}

grpc::ServerUnaryReactor* OrgCommandService::UpdateDepartment(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* in,
                                                              grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::UpdateDepartmentRequest, crm::v1::DepartmentCommandResponse>(
      ctx, in, out, executor_, router_, "/crm.v1.OrgService/UpdateDepartment",
      OrgStream<crm::v1::UpdateDepartmentRequest>, [this](const auto& request, const auto& call) {
        return handler_->UpdateDepartment(request, call);
      });
}

grpc::ServerUnaryReactor* OrgCommandService::CreateTeam(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::CreateTeamRequest, crm::v1::TeamCommandResponse>(
      ctx, in, out, executor_, router_, "/crm.v1.OrgService/CreateTeam",
      [](crm::v1::CreateTeamRequest& request) {
        request.set_team_id(TeamIdFor(request));
        return std::string(command::kOrgStreamKey);
      },
      [this](const auto& request, const auto& call) {
        return handler_->CreateTeam(request, call);
      });
}

grpc::ServerUnaryReactor* OrgCommandService::UpdateTeam(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::UpdateTeamRequest, crm::v1::TeamCommandResponse>(
      ctx, in, out, executor_, router_, "/crm.v1.OrgService/UpdateTeam",
      OrgStream<crm::v1::UpdateTeamRequest>, [this](const auto& request, const auto& call) {
        return handler_->UpdateTeam(request, call);
      });
}

grpc::ServerUnaryReactor* OrgCommandService::AddStaff(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* in,
                                                      grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::AddStaffRequest, crm::v1::StaffCommandResponse>(
      ctx, in, out, executor_, router_, "/crm.v1.OrgService/AddStaff",
      [](crm::v1::AddStaffRequest& request) {
        request.set_staff_id(StaffIdFor(request));
        return std::string(command::kOrgStreamKey);
      },
      [this](const auto& request, const auto& call) { return handler_->AddStaff(request, call); });
}

grpc::ServerUnaryReactor* OrgCommandService::UpdateStaff(grpc::CallbackServerContext* ctx,
                                                         const grpc::ByteBuffer* in,
                                                         grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::UpdateStaffRequest, crm::v1::StaffCommandResponse>(
      ctx, in, out, executor_, router_, "/crm.v1.OrgService/UpdateStaff",
      OrgStream<crm::v1::UpdateStaffRequest>, [this](const auto& request, const auto& call) {
        return handler_->UpdateStaff(request, call);
      });
}

grpc::ServerUnaryReactor* OrgCommandService::DeactivateStaff(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* in,
                                                             grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::DeactivateStaffRequest, crm::v1::StaffCommandResponse>(
      ctx, in, out, executor_, router_, "/crm.v1.OrgService/DeactivateStaff",
      OrgStream<crm::v1::DeactivateStaffRequest>, [this](const auto& request, const auto& call) {
        return handler_->DeactivateStaff(request, call);
      });
}

}  // namespace crm::services::org
