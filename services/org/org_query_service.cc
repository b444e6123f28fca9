#include "services/org/org_query_service.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/auth/grant.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "domain/common/field_checks.h"
#include "domain/improvement/improvement_action.h"
#include "domain/org/org_names.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "readmodel/analytics/figures.h"
#include "readmodel/org/org_view_keys.h"
#include "readmodel/org/work_queue.h"
#include "services/org/org_chart.h"
#include "services/query/page_token.h"
#include "services/query/query_support.h"

namespace crm::services::org {
namespace {

constexpr int32_t kDefaultPageSize = 50;

template <typename T>
std::string LastId(const std::vector<T>& items, absl::string_view prefix) {
  return items.empty() ? "" : std::string(domain::org::IdOf(items.back().name(), prefix));
}

}  // namespace

OrgQueries::OrgQueries(const kv::KvStore* views, fold::FoldRunner* views_runner,
                       const base::Clock* clock, Options options)
    : views_(views),
      analytics_(views),
      views_runner_(views_runner),
      clock_(clock),
      options_(options) {}

absl::Status OrgQueries::AwaitToken(const std::string& token, const rpc::CallContext& call) const {
  return query::AwaitConsistencyToken(views_runner_, {readmodel::org::kFoldName}, token, call,
                                      options_.max_consistency_wait);
}

absl::StatusOr<crm::v1::Department> OrgQueries::GetDepartment(
    const crm::v1::GetDepartmentRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::org::ParseDepartmentName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto found, views_.GetDepartment(id));
  if (!found.has_value()) {
    return query::NotFound(request.name(), "DEPARTMENT_NOT_FOUND",
                           crm::v1::Department::descriptor()->full_name());
  }
  return *std::move(found);
}

absl::StatusOr<crm::v1::Team> OrgQueries::GetTeam(const crm::v1::GetTeamRequest& request,
                                                  const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::org::ParseTeamName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto found, views_.GetTeam(id));
  if (!found.has_value()) {
    return query::NotFound(request.name(), "TEAM_NOT_FOUND",
                           crm::v1::Team::descriptor()->full_name());
  }
  return *std::move(found);
}

absl::StatusOr<crm::v1::Staff> OrgQueries::GetStaff(const crm::v1::GetStaffRequest& request,
                                                    const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::org::ParseStaffName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto found, views_.GetStaff(id));
  if (!found.has_value()) {
    return query::NotFound(request.name(), "STAFF_NOT_FOUND",
                           crm::v1::Staff::descriptor()->full_name());
  }
  return *std::move(found);
}

absl::StatusOr<crm::v1::ListDepartmentsResponse> OrgQueries::ListDepartments(
    const crm::v1::ListDepartmentsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), kDefaultPageSize));
  if (!crm::v1::DepartmentFunction_IsValid(request.function())) {
    return status::InvalidArgument("function", "is not a known department function");
  }
  const std::string filters = absl::StrCat(request.function());
  CRM_ASSIGN_OR_RETURN(std::string after,
                       query::DecodePageToken(request.page_token(), "departments", filters));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto page, views_.ListDepartments(request.function(), after, page_size));
  crm::v1::ListDepartmentsResponse response;
  if (page.more) {
    response.set_next_page_token(query::EncodePageToken(
        "departments", filters, LastId(page.items, domain::org::kDepartmentPrefix)));
  }
  for (auto& d : page.items) *response.add_departments() = std::move(d);
  return response;
}

absl::StatusOr<crm::v1::ListTeamsResponse> OrgQueries::ListTeams(
    const crm::v1::ListTeamsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), kDefaultPageSize));
  if (!request.department().empty()) {
    CRM_RETURN_IF_ERROR(
        domain::org::ParseDepartmentName(request.department(), "department").status());
  }
  const std::string& filters = request.department();
  CRM_ASSIGN_OR_RETURN(std::string after,
                       query::DecodePageToken(request.page_token(), "teams", filters));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto page, views_.ListTeams(request.department(), after, page_size));
  crm::v1::ListTeamsResponse response;
  if (page.more) {
    response.set_next_page_token(
        query::EncodePageToken("teams", filters, LastId(page.items, domain::org::kTeamPrefix)));
  }
  for (auto& t : page.items) *response.add_teams() = std::move(t);
  return response;
}

absl::StatusOr<crm::v1::ListStaffResponse> OrgQueries::ListStaff(
    const crm::v1::ListStaffRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), kDefaultPageSize));
  readmodel::org::OrgViews::StaffFilter filter;
  if (!request.department().empty()) {
    CRM_RETURN_IF_ERROR(
        domain::org::ParseDepartmentName(request.department(), "department").status());
    filter.department = request.department();
  }
  if (!request.team().empty()) {
    CRM_RETURN_IF_ERROR(domain::org::ParseTeamName(request.team(), "team").status());
    filter.team = request.team();
  }
  if (!crm::v1::StaffRole_IsValid(request.role())) {
    return status::InvalidArgument("role", "is not a known staff role");
  }
  filter.role = request.role();
  if (request.has_active()) filter.active = request.active();
  if (!request.manager().empty()) {
    CRM_RETURN_IF_ERROR(domain::org::ValidateOrgId(request.manager(), "manager"));
    filter.manager = request.manager();
  }
  const std::string filters =
      absl::StrCat(filter.department, "|", filter.team, "|", filter.role, "|",
                   request.has_active() ? (request.active() ? "1" : "0") : "", "|", filter.manager);
  CRM_ASSIGN_OR_RETURN(std::string after,
                       query::DecodePageToken(request.page_token(), "staff", filters));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto page, views_.ListStaff(filter, after, page_size));
  crm::v1::ListStaffResponse response;
  if (page.more) {
    response.set_next_page_token(
        query::EncodePageToken("staff", filters, LastId(page.items, domain::org::kStaffPrefix)));
  }
  for (auto& s : page.items) *response.add_staff() = std::move(s);
  return response;
}

absl::StatusOr<crm::v1::OrgChart> OrgQueries::GetOrgChart(
    const crm::v1::GetOrgChartRequest& request, const rpc::CallContext& call) const {
  if (!request.department().empty()) {
    CRM_RETURN_IF_ERROR(
        domain::org::ParseDepartmentName(request.department(), "department").status());
  }
  if (!crm::v1::OrgChartFormat_IsValid(request.format())) {
    return status::InvalidArgument("format", "is not a known org chart format");
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  const absl::Time now = clock_->Now();
  OrgSnapshot snapshot;
  CRM_ASSIGN_OR_RETURN(snapshot.departments, views_.AllDepartments());
  CRM_ASSIGN_OR_RETURN(snapshot.teams, views_.AllTeams());
  CRM_ASSIGN_OR_RETURN(snapshot.staff, views_.AllStaff());
  CRM_ASSIGN_OR_RETURN(snapshot.workloads, views_.Workloads(now));
  if (!request.department().empty()) {
    const bool exists =
        std::any_of(snapshot.departments.begin(), snapshot.departments.end(),
                    [&](const crm::v1::Department& d) { return d.name() == request.department(); });
    if (!exists) {
      return query::NotFound(request.department(), "DEPARTMENT_NOT_FOUND",
                             crm::v1::Department::descriptor()->full_name());
    }
  }
  crm::v1::OrgChart chart =
      BuildOrgChart(snapshot, request.department(), request.include_inactive());
  *chart.mutable_as_of() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  switch (request.format()) {
    case crm::v1::ORG_CHART_DATA:
      break;
    case crm::v1::ORG_CHART_DOT:
      chart.set_dot(RenderDot(chart));
      chart.clear_departments();
      chart.clear_reporting_lines();
      break;
    case crm::v1::ORG_CHART_MERMAID:
      chart.set_mermaid(RenderMermaid(chart));
      chart.clear_departments();
      chart.clear_reporting_lines();
      break;
    default:
      chart.set_dot(RenderDot(chart));
      chart.set_mermaid(RenderMermaid(chart));
      break;
  }
  return chart;
}

absl::StatusOr<crm::v1::ListWorkItemsResponse> OrgQueries::ListWorkItems(
    const crm::v1::ListWorkItemsRequest& request, const rpc::CallContext& call) const {
  // Whose queue: one staff member, a team or a department (resource names).
  std::string staff_id;
  std::string team;
  std::string department;
  const absl::string_view parent = request.parent();
  if (absl::StartsWith(parent, "staff/")) {
    CRM_ASSIGN_OR_RETURN(staff_id, domain::org::ParseStaffName(parent, "parent"));
  } else if (absl::StartsWith(parent, "teams/")) {
    CRM_RETURN_IF_ERROR(domain::org::ParseTeamName(parent, "parent").status());
    team = std::string(parent);
  } else if (absl::StartsWith(parent, "departments/")) {
    CRM_RETURN_IF_ERROR(domain::org::ParseDepartmentName(parent, "parent").status());
    department = std::string(parent);
  } else {
    return status::InvalidArgument(
        "parent", parent.empty() ? "is required: staff/{id}, teams/{id} or departments/{id}"
                                 : "must be staff/{id}, teams/{id} or departments/{id}");
  }
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), kDefaultPageSize));
  CRM_ASSIGN_OR_RETURN(std::string after,
                       query::DecodePageToken(request.page_token(), "work-items", parent));
  if (!after.empty() && !readmodel::org::ParseQueuePosition(after).has_value()) {
    return status::InvalidArgument("page_token", "is not a page token from this API");
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  // The caller must reach the queue's scope (an agent their own, a supervisor their team's, a
  // manager their department's), whether or not the team or department exists.
  const auth::Grant* grant = call.grant.get();
  if (grant != nullptr && !grant->ReachesScope(staff_id, team, department)) {
    return auth::Denied(parent);
  }
  std::vector<std::string> staff;
  if (!staff_id.empty()) {
    staff.push_back(staff_id);
  } else if (!team.empty()) {
    CRM_ASSIGN_OR_RETURN(auto found, views_.GetTeam(team.substr(strlen("teams/"))));
    if (!found.has_value()) {
      return query::NotFound(team, "TEAM_NOT_FOUND", crm::v1::Team::descriptor()->full_name());
    }
    CRM_ASSIGN_OR_RETURN(staff, views_.TeamMembers(team));
  } else {
    CRM_ASSIGN_OR_RETURN(auto found,
                         views_.GetDepartment(department.substr(strlen("departments/"))));
    if (!found.has_value()) {
      return query::NotFound(department, "DEPARTMENT_NOT_FOUND",
                             crm::v1::Department::descriptor()->full_name());
    }
    CRM_ASSIGN_OR_RETURN(staff, views_.DepartmentStaff(department));
  }
  const absl::Time now = clock_->Now();
  CRM_ASSIGN_OR_RETURN(readmodel::org::OrgViews::WorkQueuePage page,
                       views_.WorkQueue(staff, after, page_size));
  crm::v1::ListWorkItemsResponse response;
  for (auto& item : page.items) {
    item.set_overdue(item.has_due_time() && base::ToTime(item.due_time()) < now);
    *response.add_work_items() = std::move(item);
  }
  if (page.more) {
    response.set_next_page_token(query::EncodePageToken("work-items", parent, page.last_position));
  }
  *response.mutable_now() = base::ToTimestamp(now);
  return response;
}

absl::StatusOr<crm::v1::ImprovementAction> OrgQueries::GetImprovementAction(
    const crm::v1::GetImprovementActionRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id,
                       domain::improvement::ParseImprovementActionName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto found, views_.GetImprovementAction(id));
  if (!found.has_value()) {
    return query::NotFound(request.name(), "IMPROVEMENT_ACTION_NOT_FOUND",
                           crm::v1::ImprovementAction::descriptor()->full_name());
  }
  return *std::move(found);
}

absl::StatusOr<crm::v1::ListImprovementActionsResponse> OrgQueries::ListImprovementActions(
    const crm::v1::ListImprovementActionsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), kDefaultPageSize));
  readmodel::org::OrgViews::ActionFilter filter;
  if (!crm::v1::ImprovementActionState_IsValid(request.state())) {
    return status::InvalidArgument("state", "is not a known improvement action state");
  }
  filter.state = request.state();
  if (!crm::v1::RootCause_IsValid(request.root_cause())) {
    return status::InvalidArgument("root_cause", "is not a known root cause");
  }
  filter.root_cause = request.root_cause();
  if (!request.owner().empty()) {
    CRM_RETURN_IF_ERROR(crm::domain::ValidateStaffId(request.owner(), "owner"));
    filter.owner = request.owner();
  }
  const std::string filters = absl::StrCat(filter.state, "|", filter.root_cause, "|", filter.owner);
  CRM_ASSIGN_OR_RETURN(std::string after,
                       query::DecodePageToken(request.page_token(), "improvementActions", filters));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto page, views_.ListImprovementActions(filter, after, page_size));
  crm::v1::ListImprovementActionsResponse response;
  if (page.more) {
    response.set_next_page_token(
        query::EncodePageToken("improvementActions", filters,
                               LastId(page.items, domain::improvement::kImprovementActionPrefix)));
  }
  for (auto& a : page.items) *response.add_improvement_actions() = std::move(a);
  return response;
}

absl::StatusOr<crm::v1::ImprovementEffect> OrgQueries::GetImprovementEffect(
    const crm::v1::GetImprovementEffectRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id,
                       domain::improvement::ParseImprovementActionName(request.name(), "name"));
  absl::Duration period = absl::Hours(30 * 24);
  if (request.has_period()) {
    const auto& p = request.period();
    constexpr int64_t kDay = 24 * 3600;
    if (p.nanos() != 0 || p.seconds() % kDay != 0 || p.seconds() < kDay ||
        p.seconds() > 366 * kDay) {
      return status::InvalidArgument("period", "must be 1 to 366 whole days");
    }
    period = absl::Seconds(p.seconds());
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto found, views_.GetImprovementAction(id));
  if (!found.has_value()) {
    return query::NotFound(request.name(), "IMPROVEMENT_ACTION_NOT_FOUND",
                           crm::v1::ImprovementAction::descriptor()->full_name());
  }
  if (found->state() != crm::v1::IMPROVEMENT_DONE) {
    return status::PreconditionFailed(
        "IMPROVEMENT_ACTION_NOT_DONE",
        absl::StrCat(request.name(), " is not done: its effect is measured from when it was done"),
        request.name(), {{"name", request.name()}});
  }
  CRM_ASSIGN_OR_RETURN(
      crm::v1::ImprovementEffect effect,
      analytics_.GetImprovementEffect(found->root_cause(), base::ToTime(found->close_time()),
                                      period, clock_->Now()));
  *effect.mutable_improvement_action() = *std::move(found);
  return effect;
}

// --- Transport. ---

OrgQueryService::OrgQueryService(const OrgQueries* queries, rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::OrgQueryService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("GetDepartment", queries, &OrgQueries::GetDepartment);
  Unary("GetTeam", queries, &OrgQueries::GetTeam);
  Unary("GetStaff", queries, &OrgQueries::GetStaff);
  Unary("ListDepartments", queries, &OrgQueries::ListDepartments);
  Unary("ListTeams", queries, &OrgQueries::ListTeams);
  Unary("ListStaff", queries, &OrgQueries::ListStaff);
  Unary("GetOrgChart", queries, &OrgQueries::GetOrgChart);
  Unary("ListWorkItems", queries, &OrgQueries::ListWorkItems);
  Unary("GetImprovementAction", queries, &OrgQueries::GetImprovementAction);
  Unary("ListImprovementActions", queries, &OrgQueries::ListImprovementActions);
  Unary("GetImprovementEffect", queries, &OrgQueries::GetImprovementEffect);
  // Work items carry complaints and interactions: customers' rows.
  AuditReads({"ListWorkItems"});
}

}  // namespace crm::services::org
