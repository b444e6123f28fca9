#include "services/org/org_command_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/org/org_names.h"
#include "services/org/org_kinds.h"

namespace crm::services::org {
namespace {

using crm::v1::Department;
using crm::v1::Staff;
using crm::v1::Team;

// Runs `decide` on the aggregate `name` through the executor; a malformed name or id (the
// aggregate cannot be addressed) runs it on the empty state instead, which reports every bad
// field of the request.
template <typename StateT>
base::Future<command::CommandResult<StateT>> Run(
    command::CommandExecutor& executor, const absl::StatusOr<std::string>& name,
    const std::string& request_id, const rpc::CallContext& call,
    const command::TypedKind<StateT>& kind,
    const std::function<absl::StatusOr<domain::org::Events>(const StateT&)>& decide) {
  if (!name.ok()) {
    absl::StatusOr<domain::org::Events> events = decide(StateT());
    if (!events.ok()) return events.status();
    return name.status();  // unreachable in practice: a bad name is a bad field
  }
  // Org rules read other org aggregates (a team's department, a manager's team): org commands
  // run one at a time, each deciding on every earlier one's events.
  const command::Target target{
      .stream_key = command::kOrgStreamKey, .aggregate = *name, .exclusive_stream = true};
  return executor.Execute<StateT>(
      target, request_id, call, kind,
      [&](const StateT& current, int64_t,
          absl::Time) -> absl::StatusOr<std::vector<command::Event>> { return decide(current); });
}

template <typename StateT>
absl::StatusOr<std::optional<StateT>> Find(command::CommandExecutor* executor,
                                           const std::string& name, absl::Time deadline,
                                           bool* synced) {
  for (;;) {
    absl::StatusOr<command::Versioned<StateT>> found = executor->state().Get<StateT>(name);
    if (!found.ok()) return found.status();
    if (found->version != 0) return std::move(found->state);  // removed: the rules see it
    if (*synced) return std::nullopt;
    *synced = true;
    absl::Status s = executor->SyncStream(command::kOrgStreamKey, deadline);
    if (!s.ok()) return s;
  }
}

}  // namespace

std::string DepartmentIdFor(const crm::v1::CreateDepartmentRequest& request) {
  return command::IdForCreate(request.department_id(), "crm.v1.OrgService.CreateDepartment",
                              request.request_id());
}
std::string TeamIdFor(const crm::v1::CreateTeamRequest& request) {
  return command::IdForCreate(request.team_id(), "crm.v1.OrgService.CreateTeam",
                              request.request_id());
}
std::string StaffIdFor(const crm::v1::AddStaffRequest& request) {
  return command::IdForCreate(request.staff_id(), "crm.v1.OrgService.AddStaff",
                              request.request_id());
}
std::string ImprovementActionIdFor(const crm::v1::RaiseImprovementActionRequest& request) {
  return command::IdForCreate(request.improvement_action_id(),
                              "crm.v1.OrgService.RaiseImprovementAction", request.request_id());
}

OrgCommandHandler::OrgCommandHandler(command::CommandExecutor* executor) : executor_(executor) {}

domain::org::OrgLookup OrgCommandHandler::Lookup(absl::Time deadline, bool* synced) const {
  domain::org::OrgLookup lookup;
  command::CommandExecutor* executor = executor_;
  lookup.department = [=](absl::string_view id) {
    return Find<Department>(executor, domain::org::DepartmentName(id), deadline, synced);
  };
  lookup.team = [=](absl::string_view id) {
    return Find<Team>(executor, domain::org::TeamName(id), deadline, synced);
  };
  lookup.staff = [=](absl::string_view id) {
    return Find<Staff>(executor, domain::org::StaffName(id), deadline, synced);
  };
  lookup.active_team_members = [=](absl::string_view team_id) {
    return ActiveTeamMembers(executor->state(), team_id);
  };
  lookup.active_department_members = [=](absl::string_view department_id) {
    return ActiveDepartmentMembers(executor->state(), department_id);
  };
  lookup.department_teams = [=](absl::string_view department_id) {
    return DepartmentTeams(executor->state(), department_id);
  };
  return lookup;
}

base::Future<crm::v1::DepartmentCommandResponse> OrgCommandHandler::CreateDepartment(
    const crm::v1::CreateDepartmentRequest& request, const rpc::CallContext& call) {
  const std::string id = DepartmentIdFor(request);
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  absl::StatusOr<std::string> name =
      domain::org::ValidateOrgId(id, "department_id").ok()
          ? absl::StatusOr<std::string>(domain::org::DepartmentName(id))
          : absl::InvalidArgumentError("department_id");
  auto result = Run<Department>(
      *executor_, name, request.request_id(), call, DepartmentKind(), [&](const Department& state) {
        return domain::org::DecideCreateDepartment(state, request, id, lookup);
      });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done),
                               &crm::v1::DepartmentCommandResponse::mutable_department);
  });
}

base::Future<crm::v1::DepartmentCommandResponse> OrgCommandHandler::UpdateDepartment(
    const crm::v1::UpdateDepartmentRequest& request, const rpc::CallContext& call) {
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  auto id = domain::org::ParseDepartmentName(request.department().name(), "department.name");
  absl::StatusOr<std::string> name =
      id.ok() ? absl::StatusOr<std::string>(domain::org::DepartmentName(*id)) : id.status();
  auto result = Run<Department>(
      *executor_, name, request.request_id(), call, DepartmentKind(), [&](const Department& state) {
        return domain::org::DecideUpdateDepartment(state, request, lookup);
      });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done),
                               &crm::v1::DepartmentCommandResponse::mutable_department);
  });
}

base::Future<crm::v1::TeamCommandResponse> OrgCommandHandler::CreateTeam(
    const crm::v1::CreateTeamRequest& request, const rpc::CallContext& call) {
  const std::string id = TeamIdFor(request);
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  absl::StatusOr<std::string> name = domain::org::ValidateOrgId(id, "team_id").ok()
                                         ? absl::StatusOr<std::string>(domain::org::TeamName(id))
                                         : absl::InvalidArgumentError("team_id");
  auto result = Run<Team>(
      *executor_, name, request.request_id(), call, TeamKind(),
      [&](const Team& state) { return domain::org::DecideCreateTeam(state, request, id, lookup); });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done), &crm::v1::TeamCommandResponse::mutable_team);
  });
}

base::Future<crm::v1::TeamCommandResponse> OrgCommandHandler::UpdateTeam(
    const crm::v1::UpdateTeamRequest& request, const rpc::CallContext& call) {
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  auto id = domain::org::ParseTeamName(request.team().name(), "team.name");
  absl::StatusOr<std::string> name =
      id.ok() ? absl::StatusOr<std::string>(domain::org::TeamName(*id)) : id.status();
  auto result = Run<Team>(
      *executor_, name, request.request_id(), call, TeamKind(),
      [&](const Team& state) { return domain::org::DecideUpdateTeam(state, request, lookup); });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done), &crm::v1::TeamCommandResponse::mutable_team);
  });
}

base::Future<crm::v1::StaffCommandResponse> OrgCommandHandler::AddStaff(
    const crm::v1::AddStaffRequest& request, const rpc::CallContext& call) {
  const std::string id = StaffIdFor(request);
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  absl::StatusOr<std::string> name = domain::org::ValidateOrgId(id, "staff_id").ok()
                                         ? absl::StatusOr<std::string>(domain::org::StaffName(id))
                                         : absl::InvalidArgumentError("staff_id");
  auto result = Run<Staff>(
      *executor_, name, request.request_id(), call, StaffKind(),
      [&](const Staff& state) { return domain::org::DecideAddStaff(state, request, id, lookup); });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done), &crm::v1::StaffCommandResponse::mutable_staff);
  });
}

base::Future<crm::v1::StaffCommandResponse> OrgCommandHandler::UpdateStaff(
    const crm::v1::UpdateStaffRequest& request, const rpc::CallContext& call) {
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  auto id = domain::org::ParseStaffName(request.staff().name(), "staff.name");
  absl::StatusOr<std::string> name =
      id.ok() ? absl::StatusOr<std::string>(domain::org::StaffName(*id)) : id.status();
  auto result = Run<Staff>(
      *executor_, name, request.request_id(), call, StaffKind(),
      [&](const Staff& state) { return domain::org::DecideUpdateStaff(state, request, lookup); });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done), &crm::v1::StaffCommandResponse::mutable_staff);
  });
}

base::Future<crm::v1::StaffCommandResponse> OrgCommandHandler::DeactivateStaff(
    const crm::v1::DeactivateStaffRequest& request, const rpc::CallContext& call) {
  auto id = domain::org::ParseStaffName(request.name(), "name");
  absl::StatusOr<std::string> name =
      id.ok() ? absl::StatusOr<std::string>(domain::org::StaffName(*id)) : id.status();
  auto result = Run<Staff>(
      *executor_, name, request.request_id(), call, StaffKind(),
      [&](const Staff& state) { return domain::org::DecideDeactivateStaff(state, request); });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done), &crm::v1::StaffCommandResponse::mutable_staff);
  });
}

base::Future<crm::v1::StaffCommandResponse> OrgCommandHandler::ReactivateStaff(
    const crm::v1::ReactivateStaffRequest& request, const rpc::CallContext& call) {
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  auto id = domain::org::ParseStaffName(request.name(), "name");
  absl::StatusOr<std::string> name =
      id.ok() ? absl::StatusOr<std::string>(domain::org::StaffName(*id)) : id.status();
  auto result = Run<Staff>(*executor_, name, request.request_id(), call, StaffKind(),
                           [&](const Staff& state) {
                             return domain::org::DecideReactivateStaff(state, request, lookup);
                           });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done), &crm::v1::StaffCommandResponse::mutable_staff);
  });
}

base::Future<crm::v1::TeamCommandResponse> OrgCommandHandler::RemoveTeam(
    const crm::v1::RemoveTeamRequest& request, const rpc::CallContext& call) {
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  auto id = domain::org::ParseTeamName(request.name(), "name");
  absl::StatusOr<std::string> name =
      id.ok() ? absl::StatusOr<std::string>(domain::org::TeamName(*id)) : id.status();
  auto result = Run<Team>(
      *executor_, name, request.request_id(), call, TeamKind(),
      [&](const Team& state) { return domain::org::DecideRemoveTeam(state, request, lookup); });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done), &crm::v1::TeamCommandResponse::mutable_team);
  });
}

base::Future<crm::v1::DepartmentCommandResponse> OrgCommandHandler::RemoveDepartment(
    const crm::v1::RemoveDepartmentRequest& request, const rpc::CallContext& call) {
  bool synced = false;
  const domain::org::OrgLookup lookup = Lookup(call.deadline, &synced);
  auto id = domain::org::ParseDepartmentName(request.name(), "name");
  absl::StatusOr<std::string> name =
      id.ok() ? absl::StatusOr<std::string>(domain::org::DepartmentName(*id)) : id.status();
  auto result = Run<Department>(
      *executor_, name, request.request_id(), call, DepartmentKind(), [&](const Department& state) {
        return domain::org::DecideRemoveDepartment(state, request, lookup);
      });
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(std::move(done),
                               &crm::v1::DepartmentCommandResponse::mutable_department);
  });
}

domain::improvement::ImprovementLookup OrgCommandHandler::ImprovementLookupFor(absl::Time deadline,
                                                                               bool* synced) const {
  domain::improvement::ImprovementLookup lookup;
  command::CommandExecutor* executor = executor_;
  lookup.staff = [=](absl::string_view id) {
    return Find<Staff>(executor, domain::org::StaffName(id), deadline, synced);
  };
  lookup.complaint_exists = [=](absl::string_view complaint) -> absl::StatusOr<bool> {
    auto parts = domain::complaint::ParseComplaintName(complaint, "complaint");
    if (!parts.ok()) return false;
    for (int attempt = 0;; ++attempt) {
      absl::StatusOr<command::Versioned<crm::v1::Complaint>> found =
          executor->state().Get<crm::v1::Complaint>(complaint);
      if (!found.ok()) return found.status();
      if (found->version != 0 || attempt == 1) return found->version != 0;
      // Filed a moment ago through another replica: read its customer's stream to the end.
      if (absl::Status s = executor->SyncStream(parts->customer_id, deadline); !s.ok()) return s;
    }
  };
  return lookup;
}

namespace {

absl::StatusOr<std::string> ActionName(absl::string_view name) {
  auto id = domain::improvement::ParseImprovementActionName(name, "name");
  if (!id.ok()) return id.status();
  return domain::improvement::ImprovementActionName(*id);
}

base::Future<OrgCommandHandler::ImprovementResponse> ImprovementAnswer(
    base::Future<command::CommandResult<crm::v1::ImprovementAction>> result) {
  return std::move(result).Then([](auto done) {
    return command::ResponseOf(
        std::move(done), &crm::v1::ImprovementActionCommandResponse::mutable_improvement_action);
  });
}

}  // namespace

base::Future<OrgCommandHandler::ImprovementResponse> OrgCommandHandler::RaiseImprovementAction(
    const crm::v1::RaiseImprovementActionRequest& request, const rpc::CallContext& call) {
  const std::string id = ImprovementActionIdFor(request);
  bool synced = false;
  const auto lookup = ImprovementLookupFor(call.deadline, &synced);
  absl::StatusOr<std::string> name =
      domain::org::ValidateOrgId(id, "improvement_action_id").ok()
          ? absl::StatusOr<std::string>(domain::improvement::ImprovementActionName(id))
          : absl::InvalidArgumentError("improvement_action_id");
  return ImprovementAnswer(Run<crm::v1::ImprovementAction>(
      *executor_, name, request.request_id(), call, ImprovementActionKind(),
      [&](const crm::v1::ImprovementAction& state) {
        return domain::improvement::DecideRaise(state, request, id, lookup);
      }));
}

base::Future<OrgCommandHandler::ImprovementResponse> OrgCommandHandler::LinkImprovementComplaints(
    const crm::v1::LinkImprovementComplaintsRequest& request, const rpc::CallContext& call) {
  bool synced = false;
  const auto lookup = ImprovementLookupFor(call.deadline, &synced);
  return ImprovementAnswer(Run<crm::v1::ImprovementAction>(
      *executor_, ActionName(request.name()), request.request_id(), call, ImprovementActionKind(),
      [&](const crm::v1::ImprovementAction& state) {
        return domain::improvement::DecideLinkComplaints(state, request, lookup);
      }));
}

base::Future<OrgCommandHandler::ImprovementResponse> OrgCommandHandler::CompleteImprovementAction(
    const crm::v1::CompleteImprovementActionRequest& request, const rpc::CallContext& call) {
  return ImprovementAnswer(Run<crm::v1::ImprovementAction>(
      *executor_, ActionName(request.name()), request.request_id(), call, ImprovementActionKind(),
      [&](const crm::v1::ImprovementAction& state) {
        return domain::improvement::DecideComplete(state, request);
      }));
}

base::Future<OrgCommandHandler::ImprovementResponse> OrgCommandHandler::CancelImprovementAction(
    const crm::v1::CancelImprovementActionRequest& request, const rpc::CallContext& call) {
  return ImprovementAnswer(Run<crm::v1::ImprovementAction>(
      *executor_, ActionName(request.name()), request.request_id(), call, ImprovementActionKind(),
      [&](const crm::v1::ImprovementAction& state) {
        return domain::improvement::DecideCancel(state, request);
      }));
}

}  // namespace crm::services::org
