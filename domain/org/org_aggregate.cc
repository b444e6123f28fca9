#include "domain/org/org_aggregate.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/errors.h"
#include "common/status/violations.h"
#include "domain/common/event_types.h"
#include "domain/common/field_checks.h"
#include "domain/org/event_codec.h"
#include "domain/org/org_names.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "google/rpc/error_details.pb.h"

namespace crm::domain::org {
namespace {

using crm::v1::Department;
using crm::v1::Staff;
using crm::v1::Team;
using google::protobuf::FieldMask;
using google::protobuf::Message;

// The fields each update may change, in the canonical order of changed_paths.
const std::vector<absl::string_view>& DepartmentPaths() {
  static const auto* paths = new std::vector<absl::string_view>{"display_name", "function", "head"};
  return *paths;
}
const std::vector<absl::string_view>& TeamPaths() {
  static const auto* paths =
      new std::vector<absl::string_view>{"display_name", "department", "lead"};
  return *paths;
}
const std::vector<absl::string_view>& StaffPaths() {
  static const auto* paths = new std::vector<absl::string_view>{
      "display_name", "email", "role", "level", "department", "team", "manager"};
  return *paths;
}

using crm::status::Violations;

std::string Path(absl::string_view message_field, absl::string_view path) {
  return absl::StrCat(message_field, ".", path);
}

// The paths are singular string or enum fields of the same name in the resource, so one
// reflection-based helper copies and compares them for every kind.
const google::protobuf::FieldDescriptor* FieldOf(const Message& m, absl::string_view path) {
  return m.GetDescriptor()->FindFieldByName(std::string(path));
}

void CopyPath(absl::string_view path, const Message& from, Message& to) {
  const auto* field = FieldOf(from, path);
  if (field == nullptr) return;
  const auto* reflection = from.GetReflection();
  switch (field->cpp_type()) {
    case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
      to.GetReflection()->SetString(&to, field, reflection->GetString(from, field));
      break;
    case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
      to.GetReflection()->SetEnumValue(&to, field, reflection->GetEnumValue(from, field));
      break;
    default:
      break;
  }
}

bool PathEquals(absl::string_view path, const Message& a, const Message& b) {
  const auto* field = FieldOf(a, path);
  if (field == nullptr) return true;
  switch (field->cpp_type()) {
    case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
      return a.GetReflection()->GetString(a, field) == b.GetReflection()->GetString(b, field);
    case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
      return a.GetReflection()->GetEnumValue(a, field) == b.GetReflection()->GetEnumValue(b, field);
    default:
      return true;
  }
}

bool PathIsSet(absl::string_view path, const Message& m) {
  const auto* field = FieldOf(m, path);
  if (field == nullptr) return false;
  switch (field->cpp_type()) {
    case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
      return !m.GetReflection()->GetString(m, field).empty();
    case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
      return m.GetReflection()->GetEnumValue(m, field) != 0;
    default:
      return false;
  }
}

// The effective update mask in canonical order (AIP-134): the listed paths, or those set in
// `in` if none, or all of them for "*".
std::vector<absl::string_view> ResolveMask(const FieldMask& mask,
                                           const std::vector<absl::string_view>& allowed,
                                           const Message& in, Violations& v) {
  std::set<absl::string_view> requested;
  bool all = false;
  const auto& paths = mask.paths();
  for (int i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    const std::string field = absl::StrCat("update_mask.paths[", i, "]");
    if (path == "*") {
      if (paths.size() != 1) v.Add(field, "\"*\" must be the only path");
      all = true;
      continue;
    }
    auto it = std::find(allowed.begin(), allowed.end(), path);
    if (it == allowed.end()) {
      v.Add(field, absl::StrCat("\"", path, "\" cannot be updated; allowed: ",
                                absl::StrJoin(allowed, ", "), " or \"*\""));
      continue;
    }
    requested.insert(*it);
  }
  std::vector<absl::string_view> out;
  for (absl::string_view path : allowed) {
    if (all || (paths.empty() ? PathIsSet(path, in) : requested.count(path) > 0)) {
      out.push_back(path);
    }
  }
  return out;
}

void CheckRequiredEnum(int value, bool (*is_valid)(int), absl::string_view field,
                       absl::string_view allowed, Violations& v) {
  if (value == 0) {
    v.Add(field, absl::StrCat("is required: ", allowed));
  } else if (!is_valid(value)) {
    v.Add(field, absl::StrCat("unknown value ", value));
  }
}

// Validate and normalize one path of `in` into `out`, naming fields as in the requests
// ("department.head", "staff.role", ...).
void CheckDepartmentPath(absl::string_view path, const Department& in, Department& out,
                         Violations& v) {
  if (path == "display_name") {
    v.Add(crm::domain::ValidateText(in.display_name(), kMaxDisplayName, /*required=*/true,
                                    "department.display_name"));
    out.set_display_name(in.display_name());
  } else if (path == "function") {
    CheckRequiredEnum(in.function(), &crm::v1::DepartmentFunction_IsValid, "department.function",
                      "SALES, MARKETING, CUSTOMER_SERVICE or OTHER_FUNCTION", v);
    out.set_function(in.function());
  } else if (path == "head") {
    if (!in.head().empty()) v.Add(ValidateOrgId(in.head(), "department.head"));
    out.set_head(in.head());
  }
}

void CheckTeamPath(absl::string_view path, const Team& in, Team& out, Violations& v) {
  if (path == "display_name") {
    v.Add(crm::domain::ValidateText(in.display_name(), kMaxDisplayName, /*required=*/true,
                                    "team.display_name"));
    out.set_display_name(in.display_name());
  } else if (path == "department") {
    v.Check(ParseDepartmentName(in.department(), "team.department"));
    out.set_department(in.department());
  } else if (path == "lead") {
    if (!in.lead().empty()) v.Add(ValidateOrgId(in.lead(), "team.lead"));
    out.set_lead(in.lead());
  }
}

void CheckStaffPath(absl::string_view path, const Staff& in, Staff& out, Violations& v) {
  if (path == "display_name") {
    v.Add(crm::domain::ValidateText(in.display_name(), kMaxDisplayName, /*required=*/true,
                                    "staff.display_name"));
    out.set_display_name(in.display_name());
  } else if (path == "email") {
    if (in.email().empty()) {
      out.clear_email();
    } else {
      auto email = crm::domain::NormalizeEmail(in.email(), "staff.email");
      if (v.Check(email)) out.set_email(*email);
    }
  } else if (path == "role") {
    CheckRequiredEnum(
        in.role(), &crm::v1::StaffRole_IsValid, "staff.role",
        "ACCOUNT_MANAGER, CUSTOMER_REPRESENTATIVE, SERVICE_AGENT, SUPERVISOR or MANAGER", v);
    out.set_role(in.role());
  } else if (path == "level") {
    CheckRequiredEnum(in.level(), &crm::v1::StaffLevel_IsValid, "staff.level",
                      "FRONT_LINE, MIDDLE or SENIOR", v);
    out.set_level(in.level());
  } else if (path == "department") {
    v.Check(ParseDepartmentName(in.department(), "staff.department"));
    out.set_department(in.department());
  } else if (path == "team") {
    if (!in.team().empty()) v.Check(ParseTeamName(in.team(), "staff.team"));
    out.set_team(in.team());
  } else if (path == "manager") {
    if (!in.manager().empty()) v.Add(ValidateOrgId(in.manager(), "staff.manager"));
    out.set_manager(in.manager());
  }
}

// Output-only fields a create request must leave unset.
template <typename T>
void RejectOutputOnly(const T& in, absl::string_view prefix, Violations& v) {
  if (in.version() != 0) v.Add(Path(prefix, "version"), "is output only");
  if (!in.etag().empty()) v.Add(Path(prefix, "etag"), "is output only");
}

// The target of a command on an existing aggregate: its resource name and the etag's version.
struct Target {
  std::string name;
  std::optional<int64_t> etag_version;
};

Target CheckTarget(absl::string_view name, absl::string_view name_field,
                   absl::StatusOr<std::string> (*parse)(absl::string_view, absl::string_view),
                   absl::string_view prefix, absl::string_view request_id, absl::string_view etag,
                   Violations& v) {
  Target target;
  v.Add(crm::domain::ValidateRequestId(request_id, "request_id"));
  auto id = parse(name, name_field);
  if (v.Check(id)) target.name = absl::StrCat(prefix, *id);
  if (!etag.empty()) {
    auto version = ParseEtag(etag, "etag");
    if (v.Check(version)) target.etag_version = *version;
  }
  return target;
}

// "DEPARTMENT", "TEAM" or "STAFF" for a resource name.
std::string KindOf(absl::string_view name) {
  if (!IdOf(name, kDepartmentPrefix).empty()) return "DEPARTMENT";
  if (!IdOf(name, kTeamPrefix).empty()) return "TEAM";
  return "STAFF";
}

std::string ResourceType(absl::string_view name) {
  if (!IdOf(name, kDepartmentPrefix).empty()) return Department::descriptor()->full_name();
  if (!IdOf(name, kTeamPrefix).empty()) return Team::descriptor()->full_name();
  return Staff::descriptor()->full_name();
}

absl::Status NotFound(absl::string_view name) {
  return crm::status::ResourceNotFound(ResourceType(name), name,
                                       absl::StrCat(KindOf(name), "_NOT_FOUND"),
                                       {{"name", std::string(name)}});
}

absl::Status AlreadyExists(absl::string_view name) {
  return crm::status::Error(absl::StatusCode::kAlreadyExists, absl::StrCat(name, " already exists"),
                            absl::StrCat(KindOf(name), "_ALREADY_EXISTS"),
                            {{"name", std::string(name)}});
}

// Existence and etag of the target, after the request fields are known to be valid. A removed
// department or team does not exist.
absl::Status CheckState(int64_t version, const Target& target, bool removed = false) {
  if (version == 0 || removed) return NotFound(target.name);
  if (target.etag_version.has_value() && *target.etag_version != version) {
    return crm::status::StaleEtag(target.name, "name", *target.etag_version, version);
  }
  return absl::OkStatus();
}

absl::Status Precondition(absl::string_view reason, absl::string_view message,
                          absl::string_view subject, absl::string_view field) {
  return crm::status::PreconditionFailed(
      reason, message, subject, {{"field", std::string(field)}, {"subject", std::string(subject)}});
}

absl::Status MissingLookup(absl::string_view what) {
  return crm::status::Error(absl::StatusCode::kInternal,
                            absl::StrCat("OrgLookup.", what, " is required"), "INTERNAL");
}

// NOT_FOUND naming `field` unless the department exists.
absl::Status CheckDepartmentExists(absl::string_view name, absl::string_view field,
                                   const OrgLookup& lookup) {
  if (!lookup.department) return MissingLookup("department");
  absl::StatusOr<std::optional<Department>> found =
      lookup.department(IdOf(name, kDepartmentPrefix));
  if (!found.ok()) return found.status();
  if (!found->has_value() || (*found)->has_delete_time()) return ReferenceNotFound(name, field);
  return absl::OkStatus();
}

absl::StatusOr<Team> FindTeam(absl::string_view name, absl::string_view field,
                              const OrgLookup& lookup) {
  if (!lookup.team) return MissingLookup("team");
  absl::StatusOr<std::optional<Team>> found = lookup.team(IdOf(name, kTeamPrefix));
  if (!found.ok()) return found.status();
  if (!found->has_value() || (*found)->has_delete_time()) return ReferenceNotFound(name, field);
  return std::move(**found);
}

// The staff member `id` if known and active; NOT_FOUND / FAILED_PRECONDITION naming `field`.
absl::StatusOr<Staff> FindActiveStaff(absl::string_view id, absl::string_view field,
                                      const OrgLookup& lookup) {
  if (!lookup.staff) return MissingLookup("staff");
  absl::StatusOr<std::optional<Staff>> found = lookup.staff(id);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return ReferenceNotFound(StaffName(id), field);
  if (!(*found)->active()) return StaffInactive(StaffName(id), field);
  return std::move(**found);
}

// FAILED_PRECONDITION unless the team (if any) belongs to the department.
absl::Status CheckTeamInDepartment(absl::string_view team, absl::string_view department,
                                   absl::string_view field, const OrgLookup& lookup) {
  if (team.empty()) return absl::OkStatus();
  absl::StatusOr<Team> found = FindTeam(team, field, lookup);
  if (!found.ok()) return found.status();
  if (found->department() != department) {
    return Precondition("TEAM_NOT_IN_DEPARTMENT",
                        absl::StrCat(field, ": ", team, " belongs to ", found->department(),
                                     ", not to ", department),
                        team, field);
  }
  return absl::OkStatus();
}

// FAILED_PRECONDITION if making `manager` the manager of `staff_id` closes a loop: walking up
// from `manager` reaches `staff_id`.
absl::Status CheckNoCycle(absl::string_view staff_id, absl::string_view manager,
                          absl::string_view field, const OrgLookup& lookup) {
  std::string current(manager);
  std::vector<std::string> chain = {std::string(staff_id)};
  for (int depth = 0; depth < kMaxReportingDepth && !current.empty(); ++depth) {
    chain.push_back(current);
    if (current == staff_id) {
      return Precondition("REPORTING_CYCLE",
                          absl::StrCat(field, ": the reporting line would form a cycle: ",
                                       absl::StrJoin(chain, " -> ")),
                          StaffName(staff_id), field);
    }
    absl::StatusOr<std::optional<Staff>> found = lookup.staff(current);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::OkStatus();
    current = (*found)->manager();
  }
  if (current.empty()) return absl::OkStatus();
  return Precondition("REPORTING_LINE_TOO_LONG",
                      absl::StrCat(field, ": the reporting line above ", manager,
                                   " is longer than ", kMaxReportingDepth),
                      StaffName(staff_id), field);
}

Events One(Event event) {
  Events events;
  events.push_back(std::move(event));
  return events;
}

bool Changed(const std::vector<std::string>& paths, absl::string_view path) {
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

bool Known(const std::vector<absl::string_view>& paths, absl::string_view path) {
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

// The common head of the three Apply functions: payload, kind, name and version.
absl::Status CheckApply(absl::string_view state_name, int64_t state_version, const Event& event,
                        absl::string_view prefix, bool owned, bool is_create) {
  const bool unknown = IsUnknownEventType(event);
  if (event.payload_case() == Event::PAYLOAD_NOT_SET && !unknown) {
    return crm::status::Error(
        absl::StatusCode::kDataLoss,
        absl::StrCat("event ", event.event_id(), " of ", event.aggregate(), " at version ",
                     event.aggregate_version(), " has no payload"),
        "EVENT_WITHOUT_PAYLOAD", {{"event_id", event.event_id()}});
  }
  const std::string& name = event.aggregate();
  if (!owned) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event type ", event.event_type(), " does not apply to ", prefix, "*"),
        "EVENT_OF_ANOTHER_KIND", {{"aggregate", name}});
  }
  if (IdOf(name, prefix).empty() || (state_version != 0 && state_name != name)) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event of aggregate \"", name, "\" applied to ",
                     state_name.empty() ? absl::StrCat("a new ", prefix, "*") : state_name),
        "AGGREGATE_MISMATCH", {{"aggregate", name}, {"state", std::string(state_name)}});
  }
  if (event.aggregate_version() != state_version + 1) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event version ", event.aggregate_version(), " applied to ", name,
                     " at version ", state_version, "; expected ", state_version + 1),
        "VERSION_MISMATCH",
        {{"aggregate", name},
         {"event_version", absl::StrCat(event.aggregate_version())},
         {"state_version", absl::StrCat(state_version)}});
  }
  if (!unknown && is_create != (state_version == 0)) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        is_create ? absl::StrCat(name, " is created twice")
                  : absl::StrCat("the first event of ", name, " does not create it"),
        "EVENT_OUT_OF_ORDER", {{"aggregate", name}});
  }
  return absl::OkStatus();
}

// No event applies to a removed department or team (an unknown type's aside: CheckApply lets it
// move the version before this is asked).
absl::Status RemovedAlready(absl::string_view name) {
  return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                            absl::StrCat(name, " was removed; no event applies to it any more"),
                            "EVENT_AFTER_REMOVAL", {{"aggregate", std::string(name)}});
}

// Sets the fields every Apply sets.
template <typename T>
void Stamp(T& state, const Event& event, bool is_create) {
  state.set_name(event.aggregate());
  state.set_version(event.aggregate_version());
  state.set_etag(Etag(event.aggregate_version()));
  if (is_create) *state.mutable_create_time() = event.recorded_at();
  *state.mutable_update_time() = event.recorded_at();
}

}  // namespace

absl::Status ReferenceNotFound(absl::string_view name, absl::string_view field) {
  return crm::status::ResourceNotFound(ResourceType(name), name,
                                       absl::StrCat(KindOf(name), "_NOT_FOUND"),
                                       {{"field", std::string(field)}, {"name", std::string(name)}},
                                       absl::StrCat(field, ": ", name, " does not exist"));
}

absl::Status StaffInactive(absl::string_view name, absl::string_view field) {
  return Precondition(
      "STAFF_INACTIVE",
      absl::StrCat(field, ": ", name, " is deactivated and can no longer be given work"), name,
      field);
}

namespace {
// A type this build does not know belongs to the aggregate it names.
bool IsUnknownOf(const Event& e, absl::string_view prefix) {
  return IsUnknownEventType(e) && !IdOf(e.aggregate(), prefix).empty();
}
}  // namespace

bool IsDepartmentEvent(const Event& e) {
  return e.has_department_created() || e.has_department_updated() || e.has_department_removed() ||
         IsUnknownOf(e, kDepartmentPrefix);
}
bool IsTeamEvent(const Event& e) {
  return e.has_team_created() || e.has_team_updated() || e.has_team_removed() ||
         IsUnknownOf(e, kTeamPrefix);
}
bool IsStaffEvent(const Event& e) {
  return e.has_staff_added() || e.has_staff_updated() || e.has_staff_deactivated() ||
         e.has_staff_reactivated() || IsUnknownOf(e, kStaffPrefix);
}
bool IsOrgEvent(const Event& e) {
  return IsDepartmentEvent(e) || IsTeamEvent(e) || IsStaffEvent(e);
}

// ---------------------------------------------------------------------------------------------
// Departments.

absl::StatusOr<Events> DecideCreateDepartment(const Department& state,
                                              const crm::v1::CreateDepartmentRequest& request,
                                              absl::string_view department_id,
                                              const OrgLookup& lookup) {
  Violations v;
  v.Add(ValidateOrgId(department_id, "department_id"));
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  const Department& in = request.department();
  Department out;
  for (absl::string_view path : DepartmentPaths()) CheckDepartmentPath(path, in, out, v);
  RejectOutputOnly(in, "department", v);
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;

  const std::string name = DepartmentName(department_id);
  if (state.version() != 0) return AlreadyExists(name);
  if (!out.head().empty()) {
    if (auto head = FindActiveStaff(out.head(), "department.head", lookup); !head.ok()) {
      return head.status();
    }
  }
  Event event;
  out.set_name(name);
  *event.mutable_department_created()->mutable_department() = ToEvent(out);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideUpdateDepartment(const Department& state,
                                              const crm::v1::UpdateDepartmentRequest& request,
                                              const OrgLookup& lookup) {
  Violations v;
  const Department& in = request.department();
  const Target target = CheckTarget(in.name(), "department.name", &ParseDepartmentName,
                                    kDepartmentPrefix, request.request_id(), request.etag(), v);
  const std::vector<absl::string_view> mask =
      ResolveMask(request.update_mask(), DepartmentPaths(), in, v);
  Department out;
  for (absl::string_view path : mask) CheckDepartmentPath(path, in, out, v);
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckState(state.version(), target, state.has_delete_time()); !s.ok()) {
    return s;
  }

  Event event;
  auto* updated = event.mutable_department_updated();
  Department changes;
  for (absl::string_view path : mask) {
    if (PathEquals(path, out, state)) continue;
    updated->add_changed_paths(std::string(path));
    CopyPath(path, out, changes);
  }
  if (updated->changed_paths().empty()) return Events();
  *updated->mutable_department() = ToEvent(changes);
  const std::vector<std::string> changed(updated->changed_paths().begin(),
                                         updated->changed_paths().end());
  if (Changed(changed, "head") && !out.head().empty()) {
    if (auto head = FindActiveStaff(out.head(), "department.head", lookup); !head.ok()) {
      return head.status();
    }
  }
  return One(std::move(event));
}

// ---------------------------------------------------------------------------------------------
// Teams.

absl::StatusOr<Events> DecideCreateTeam(const Team& state,
                                        const crm::v1::CreateTeamRequest& request,
                                        absl::string_view team_id, const OrgLookup& lookup) {
  Violations v;
  v.Add(ValidateOrgId(team_id, "team_id"));
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  const Team& in = request.team();
  Team out;
  for (absl::string_view path : TeamPaths()) CheckTeamPath(path, in, out, v);
  RejectOutputOnly(in, "team", v);
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;

  const std::string name = TeamName(team_id);
  if (state.version() != 0) return AlreadyExists(name);
  if (absl::Status s = CheckDepartmentExists(out.department(), "team.department", lookup);
      !s.ok()) {
    return s;
  }
  if (!out.lead().empty()) {
    if (auto lead = FindActiveStaff(out.lead(), "team.lead", lookup); !lead.ok()) {
      return lead.status();
    }
  }
  Event event;
  out.set_name(name);
  *event.mutable_team_created()->mutable_team() = ToEvent(out);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideUpdateTeam(const Team& state,
                                        const crm::v1::UpdateTeamRequest& request,
                                        const OrgLookup& lookup) {
  Violations v;
  const Team& in = request.team();
  const Target target = CheckTarget(in.name(), "team.name", &ParseTeamName, kTeamPrefix,
                                    request.request_id(), request.etag(), v);
  const std::vector<absl::string_view> mask =
      ResolveMask(request.update_mask(), TeamPaths(), in, v);
  Team out;
  for (absl::string_view path : mask) CheckTeamPath(path, in, out, v);
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckState(state.version(), target, state.has_delete_time()); !s.ok()) {
    return s;
  }

  Event event;
  auto* updated = event.mutable_team_updated();
  Team changes;
  for (absl::string_view path : mask) {
    if (PathEquals(path, out, state)) continue;
    updated->add_changed_paths(std::string(path));
    CopyPath(path, out, changes);
  }
  if (updated->changed_paths().empty()) return Events();
  *updated->mutable_team() = ToEvent(changes);
  const std::vector<std::string> changed(updated->changed_paths().begin(),
                                         updated->changed_paths().end());
  if (Changed(changed, "department")) {
    if (absl::Status s = CheckDepartmentExists(out.department(), "team.department", lookup);
        !s.ok()) {
      return s;
    }
    if (!lookup.active_team_members) return MissingLookup("active_team_members");
    absl::StatusOr<std::vector<std::string>> members =
        lookup.active_team_members(IdOf(state.name(), kTeamPrefix));
    if (!members.ok()) return members.status();
    if (!members->empty()) {
      return Precondition("TEAM_HAS_MEMBERS",
                          absl::StrCat("team.department: ", state.name(), " still has ",
                                       members->size(), " active member(s) in ", state.department(),
                                       " (", absl::StrJoin(*members, ", "),
                                       "); move them to the new department's team first"),
                          state.name(), "team.department");
    }
  }
  if (Changed(changed, "lead") && !out.lead().empty()) {
    if (auto lead = FindActiveStaff(out.lead(), "team.lead", lookup); !lead.ok()) {
      return lead.status();
    }
  }
  return One(std::move(event));
}

// ---------------------------------------------------------------------------------------------
// Staff.

absl::StatusOr<Events> DecideAddStaff(const Staff& state, const crm::v1::AddStaffRequest& request,
                                      absl::string_view staff_id, const OrgLookup& lookup) {
  Violations v;
  v.Add(ValidateOrgId(staff_id, "staff_id"));
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  const Staff& in = request.staff();
  Staff out;
  for (absl::string_view path : StaffPaths()) CheckStaffPath(path, in, out, v);
  if (!out.manager().empty() && out.manager() == staff_id) {
    v.Add("staff.manager", "cannot be the staff member themself");
  }
  RejectOutputOnly(in, "staff", v);
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;

  const std::string name = StaffName(staff_id);
  if (state.version() != 0) return AlreadyExists(name);
  if (absl::Status s = CheckDepartmentExists(out.department(), "staff.department", lookup);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTeamInDepartment(out.team(), out.department(), "staff.team", lookup);
      !s.ok()) {
    return s;
  }
  if (!out.manager().empty()) {
    if (auto manager = FindActiveStaff(out.manager(), "staff.manager", lookup); !manager.ok()) {
      return manager.status();
    }
  }
  Event event;
  out.set_name(name);
  out.set_active(true);
  *event.mutable_staff_added()->mutable_staff() = ToEvent(out);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideUpdateStaff(const Staff& state,
                                         const crm::v1::UpdateStaffRequest& request,
                                         const OrgLookup& lookup) {
  Violations v;
  const Staff& in = request.staff();
  const Target target = CheckTarget(in.name(), "staff.name", &ParseStaffName, kStaffPrefix,
                                    request.request_id(), request.etag(), v);
  const std::vector<absl::string_view> mask =
      ResolveMask(request.update_mask(), StaffPaths(), in, v);
  Staff out;
  for (absl::string_view path : mask) CheckStaffPath(path, in, out, v);
  const std::string id(IdOf(target.name, kStaffPrefix));
  if (std::find(mask.begin(), mask.end(), "manager") != mask.end() && !out.manager().empty() &&
      out.manager() == id) {
    v.Add("staff.manager", "cannot be the staff member themself");
  }
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckState(state.version(), target); !s.ok()) return s;

  Event event;
  auto* updated = event.mutable_staff_updated();
  Staff changes;
  Staff after = state;
  for (absl::string_view path : mask) {
    if (PathEquals(path, out, state)) continue;
    updated->add_changed_paths(std::string(path));
    CopyPath(path, out, changes);
    CopyPath(path, out, after);
  }
  if (updated->changed_paths().empty()) return Events();
  *updated->mutable_staff() = ToEvent(changes);
  if (!state.active()) {
    return Precondition("STAFF_INACTIVE",
                        absl::StrCat(target.name, " is deactivated and can no longer be changed"),
                        target.name, "staff.name");
  }
  const std::vector<std::string> changed(updated->changed_paths().begin(),
                                         updated->changed_paths().end());
  if (Changed(changed, "department")) {
    if (absl::Status s = CheckDepartmentExists(after.department(), "staff.department", lookup);
        !s.ok()) {
      return s;
    }
  }
  if (Changed(changed, "department") || Changed(changed, "team")) {
    if (absl::Status s =
            CheckTeamInDepartment(after.team(), after.department(), "staff.team", lookup);
        !s.ok()) {
      return s;
    }
  }
  if (Changed(changed, "manager") && !after.manager().empty()) {
    if (auto manager = FindActiveStaff(after.manager(), "staff.manager", lookup); !manager.ok()) {
      return manager.status();
    }
    if (absl::Status s = CheckNoCycle(id, after.manager(), "staff.manager", lookup); !s.ok()) {
      return s;
    }
  }
  return One(std::move(event));
}

absl::StatusOr<Events> DecideDeactivateStaff(const Staff& state,
                                             const crm::v1::DeactivateStaffRequest& request) {
  Violations v;
  const Target target = CheckTarget(request.name(), "name", &ParseStaffName, kStaffPrefix,
                                    request.request_id(), request.etag(), v);
  v.Add(crm::domain::ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckState(state.version(), target); !s.ok()) return s;
  if (!state.active()) return Events();
  Event event;
  event.mutable_staff_deactivated()->set_reason(request.reason());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideReactivateStaff(const Staff& state,
                                             const crm::v1::ReactivateStaffRequest& request,
                                             const OrgLookup& lookup) {
  Violations v;
  const Target target = CheckTarget(request.name(), "name", &ParseStaffName, kStaffPrefix,
                                    request.request_id(), request.etag(), v);
  v.Add(crm::domain::ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (!request.department().empty())
    v.Check(ParseDepartmentName(request.department(), "department"));
  if (!request.team().empty()) v.Check(ParseTeamName(request.team(), "team"));
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckState(state.version(), target); !s.ok()) return s;
  if (state.active()) {
    return Precondition("STAFF_ACTIVE", absl::StrCat(target.name, " is active already"),
                        target.name, "name");
  }
  // Where they return: the request's place, else their own.
  Staff place;
  place.set_department(request.department().empty() ? state.department() : request.department());
  place.set_team(!request.department().empty() || !request.team().empty() ? request.team()
                                                                          : state.team());
  const absl::string_view department_field =
      request.department().empty() ? "staff.department" : "department";
  const absl::string_view team_field =
      request.department().empty() && request.team().empty() ? "staff.team" : "team";
  if (absl::Status s = CheckDepartmentExists(place.department(), department_field, lookup);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTeamInDepartment(place.team(), place.department(), team_field, lookup);
      !s.ok()) {
    return s;
  }
  Events events;
  Event reactivated;
  reactivated.mutable_staff_reactivated()->set_reason(request.reason());
  events.push_back(std::move(reactivated));
  Event moved;
  auto* updated = moved.mutable_staff_updated();
  Staff changes;
  for (absl::string_view path : {absl::string_view("department"), absl::string_view("team")}) {
    if (PathEquals(path, place, state)) continue;
    updated->add_changed_paths(std::string(path));
    CopyPath(path, place, changes);
  }
  if (!updated->changed_paths().empty()) {
    *updated->mutable_staff() = ToEvent(changes);
    events.push_back(std::move(moved));
  }
  return events;
}

namespace {

// FAILED_PRECONDITION `reason` naming each of `what` (resource names) in a PreconditionFailure.
absl::Status NotEmpty(absl::string_view reason, absl::string_view name,
                      const std::vector<std::string>& what) {
  absl::Status status =
      crm::status::Error(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat(name, " still has ", what.size(),
                                      " active member(s) or team(s): ", absl::StrJoin(what, ", "),
                                      "; move or deactivate them first"),
                         reason, {{"name", std::string(name)}});
  google::rpc::PreconditionFailure failure;
  for (const std::string& subject : what) {
    auto* violation = failure.add_violations();
    violation->set_type(std::string(reason));
    violation->set_subject(subject);
    violation->set_description(absl::StrCat(subject, " is still in ", name));
  }
  crm::status::AddDetail(status, failure);
  return status;
}

}  // namespace

absl::StatusOr<Events> DecideRemoveTeam(const Team& state,
                                        const crm::v1::RemoveTeamRequest& request,
                                        const OrgLookup& lookup) {
  Violations v;
  const Target target = CheckTarget(request.name(), "name", &ParseTeamName, kTeamPrefix,
                                    request.request_id(), request.etag(), v);
  v.Add(crm::domain::ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckState(state.version(), target, state.has_delete_time()); !s.ok()) {
    return s;
  }
  if (!lookup.active_team_members) return MissingLookup("active_team_members");
  absl::StatusOr<std::vector<std::string>> members =
      lookup.active_team_members(IdOf(target.name, kTeamPrefix));
  if (!members.ok()) return members.status();
  if (!members->empty()) {
    std::vector<std::string> names;
    for (const std::string& id : *members) names.push_back(StaffName(id));
    return NotEmpty("TEAM_NOT_EMPTY", target.name, names);
  }
  Event event;
  event.mutable_team_removed()->set_reason(request.reason());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideRemoveDepartment(const Department& state,
                                              const crm::v1::RemoveDepartmentRequest& request,
                                              const OrgLookup& lookup) {
  Violations v;
  const Target target = CheckTarget(request.name(), "name", &ParseDepartmentName, kDepartmentPrefix,
                                    request.request_id(), request.etag(), v);
  v.Add(crm::domain::ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckState(state.version(), target, state.has_delete_time()); !s.ok()) {
    return s;
  }
  if (!lookup.active_department_members) return MissingLookup("active_department_members");
  if (!lookup.department_teams) return MissingLookup("department_teams");
  const absl::string_view id = IdOf(target.name, kDepartmentPrefix);
  absl::StatusOr<std::vector<std::string>> members = lookup.active_department_members(id);
  if (!members.ok()) return members.status();
  absl::StatusOr<std::vector<std::string>> teams = lookup.department_teams(id);
  if (!teams.ok()) return teams.status();
  std::vector<std::string> names;
  for (const std::string& t : *teams) names.push_back(TeamName(t));
  for (const std::string& s : *members) names.push_back(StaffName(s));
  if (!names.empty()) return NotEmpty("DEPARTMENT_NOT_EMPTY", target.name, names);
  Event event;
  event.mutable_department_removed()->set_reason(request.reason());
  return One(std::move(event));
}

// ---------------------------------------------------------------------------------------------
// Apply.

absl::Status ApplyDepartment(Department& state, const Event& event) {
  const bool is_create = event.has_department_created();
  if (absl::Status s = CheckApply(state.name(), state.version(), event, kDepartmentPrefix,
                                  IsDepartmentEvent(event), is_create);
      !s.ok()) {
    return s;
  }
  if (IsUnknownEventType(event)) {  // a newer writer's type: only the version moves
    Stamp(state, event, /*is_create=*/false);
    return absl::OkStatus();
  }
  if (state.has_delete_time()) return RemovedAlready(state.name());
  if (is_create) {
    const Department created = ToApi(event.department_created().department());
    for (absl::string_view path : DepartmentPaths()) CopyPath(path, created, state);
  } else if (event.has_department_removed()) {
    *state.mutable_delete_time() = event.recorded_at();
  } else {
    // Paths this code does not know (from a newer writer) are skipped.
    const auto& updated = event.department_updated();
    const Department changes = ToApi(updated.department());
    for (const std::string& path : updated.changed_paths()) {
      if (Known(DepartmentPaths(), path)) CopyPath(path, changes, state);
    }
  }
  Stamp(state, event, is_create);
  return absl::OkStatus();
}

absl::Status ApplyTeam(Team& state, const Event& event) {
  const bool is_create = event.has_team_created();
  if (absl::Status s = CheckApply(state.name(), state.version(), event, kTeamPrefix,
                                  IsTeamEvent(event), is_create);
      !s.ok()) {
    return s;
  }
  if (IsUnknownEventType(event)) {  // a newer writer's type: only the version moves
    Stamp(state, event, /*is_create=*/false);
    return absl::OkStatus();
  }
  if (state.has_delete_time()) return RemovedAlready(state.name());
  if (is_create) {
    const Team created = ToApi(event.team_created().team());
    for (absl::string_view path : TeamPaths()) CopyPath(path, created, state);
  } else if (event.has_team_removed()) {
    *state.mutable_delete_time() = event.recorded_at();
  } else {
    const auto& updated = event.team_updated();
    const Team changes = ToApi(updated.team());
    for (const std::string& path : updated.changed_paths()) {
      if (Known(TeamPaths(), path)) CopyPath(path, changes, state);
    }
  }
  Stamp(state, event, is_create);
  return absl::OkStatus();
}

absl::Status ApplyStaff(Staff& state, const Event& event) {
  const bool is_create = event.has_staff_added();
  if (absl::Status s = CheckApply(state.name(), state.version(), event, kStaffPrefix,
                                  IsStaffEvent(event), is_create);
      !s.ok()) {
    return s;
  }
  if (IsUnknownEventType(event)) {  // a newer writer's type: only the version moves
    Stamp(state, event, /*is_create=*/false);
    return absl::OkStatus();
  }
  if (is_create) {
    const Staff added = ToApi(event.staff_added().staff());
    for (absl::string_view path : StaffPaths()) CopyPath(path, added, state);
    state.set_active(true);
  } else if (event.has_staff_updated()) {
    const auto& updated = event.staff_updated();
    const Staff changes = ToApi(updated.staff());
    for (const std::string& path : updated.changed_paths()) {
      if (Known(StaffPaths(), path)) CopyPath(path, changes, state);
    }
  } else if (event.has_staff_deactivated()) {
    state.set_active(false);
  } else if (event.has_staff_reactivated()) {
    state.set_active(true);
  }
  Stamp(state, event, is_create);
  return absl::OkStatus();
}

}  // namespace crm::domain::org
