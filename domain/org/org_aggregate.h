// The organisation's aggregates (departments, teams, staff): pure decide/apply functions.
//
//   Decide*(state, request, lookup) -> the events the command produces, or why it is refused.
//   Apply*(state, event)             -> the state after the event.
//
// No I/O and no clock: what a rule needs about the rest of the organisation (does the department
// exist, who is this person's manager) comes in through OrgLookup, so every rule is unit-tested
// directly and the folds (command state, views) are deterministic.
//
// State: a crm.v1.Department / Team / Staff; version 0 (the default instance) means "does not
// exist". Decided events carry only their payload; the command executor stamps the envelope
// (aggregate "departments/{id}", "teams/{id}" or "staff/{id}", version, times, ...).
//
// Every Decide* checks, in this order: request fields (INVALID_ARGUMENT naming every bad field
// path, e.g. "staff.role"), existence (NOT_FOUND, or ALREADY_EXISTS for a create), the etag
// (ABORTED if stale), then the rules that read other aggregates: a referenced department, team or
// staff member that does not exist is NOT_FOUND naming the field (reasons DEPARTMENT_NOT_FOUND,
// TEAM_NOT_FOUND, STAFF_NOT_FOUND), a deactivated one FAILED_PRECONDITION (STAFF_INACTIVE), and
// the structural rules are FAILED_PRECONDITION (TEAM_NOT_IN_DEPARTMENT, REPORTING_CYCLE,
// TEAM_HAS_MEMBERS, STAFF_INACTIVE for changing a deactivated person). Only references that a
// command sets or changes are checked: a person whose manager was deactivated can still be
// renamed. A command that would change nothing returns no events.
//
// The rules are documented in proto/crm/v1/README.md ("The organisation").
// Thread-safe: pure functions (the lookups must be safe to call from the calling thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/org.pb.h"
#include "crm/v1/org_service.pb.h"

namespace crm::domain::org {

using Event = crm::events::v1::EventEnvelope;
using Events = std::vector<Event>;

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxDisplayName = 200;
inline constexpr size_t kMaxReason = 500;
// How far up a reporting line the cycle check walks before giving up (FAILED_PRECONDITION
// REPORTING_LINE_TOO_LONG).
inline constexpr int kMaxReportingDepth = 1000;

// What a decision may read about other aggregates of the organisation, by bare id. Each returns
// nullopt if the aggregate does not exist; errors (store trouble) are passed through unchanged.
struct OrgLookup {
  std::function<absl::StatusOr<std::optional<crm::v1::Department>>(absl::string_view id)>
      department;
  std::function<absl::StatusOr<std::optional<crm::v1::Team>>(absl::string_view id)> team;
  std::function<absl::StatusOr<std::optional<crm::v1::Staff>>(absl::string_view id)> staff;
  // Staff ids of the active members of a team (UpdateTeam moving a team, RemoveTeam).
  std::function<absl::StatusOr<std::vector<std::string>>(absl::string_view team_id)>
      active_team_members;
  // What is still in a department, in id order (only RemoveDepartment needs it): the staff ids of
  // its active staff and the team ids of its teams (removed ones left out).
  std::function<absl::StatusOr<std::vector<std::string>>(absl::string_view department_id)>
      active_department_members;
  std::function<absl::StatusOr<std::vector<std::string>>(absl::string_view department_id)>
      department_teams;
};

// A removed department or team (delete_time set) counts as not existing: a reference to it is
// NOT_FOUND naming the field, and so is a command on it.

// `department_id` (and team_id, staff_id below) is the id to create under, already chosen (from
// the request, derived from its request_id, or generated); it is validated here.
absl::StatusOr<Events> DecideCreateDepartment(const crm::v1::Department& state,
                                              const crm::v1::CreateDepartmentRequest& request,
                                              absl::string_view department_id,
                                              const OrgLookup& lookup);
absl::StatusOr<Events> DecideUpdateDepartment(const crm::v1::Department& state,
                                              const crm::v1::UpdateDepartmentRequest& request,
                                              const OrgLookup& lookup);

absl::StatusOr<Events> DecideCreateTeam(const crm::v1::Team& state,
                                        const crm::v1::CreateTeamRequest& request,
                                        absl::string_view team_id, const OrgLookup& lookup);
absl::StatusOr<Events> DecideUpdateTeam(const crm::v1::Team& state,
                                        const crm::v1::UpdateTeamRequest& request,
                                        const OrgLookup& lookup);

absl::StatusOr<Events> DecideAddStaff(const crm::v1::Staff& state,
                                      const crm::v1::AddStaffRequest& request,
                                      absl::string_view staff_id, const OrgLookup& lookup);
absl::StatusOr<Events> DecideUpdateStaff(const crm::v1::Staff& state,
                                         const crm::v1::UpdateStaffRequest& request,
                                         const OrgLookup& lookup);
// Deactivating someone who still has direct reports, heads a department or leads a team is
// allowed: those references stay (escalation up the line skips nobody silently; the org chart
// shows them), and the person can no longer be made anyone's manager, head, lead, owner or
// assignee. Deactivating an inactive person changes nothing.
absl::StatusOr<Events> DecideDeactivateStaff(const crm::v1::Staff& state,
                                             const crm::v1::DeactivateStaffRequest& request);

// The inverse of DecideDeactivateStaff: FAILED_PRECONDITION (STAFF_ACTIVE) for an active person.
// The department and team they return to (their own, or the request's) must exist, the team in
// the department; a new place is a StaffUpdated after the StaffReactivated.
absl::StatusOr<Events> DecideReactivateStaff(const crm::v1::Staff& state,
                                             const crm::v1::ReactivateStaffRequest& request,
                                             const OrgLookup& lookup);

// FAILED_PRECONDITION (TEAM_NOT_EMPTY / DEPARTMENT_NOT_EMPTY, one PreconditionFailure violation
// per staff member or team still in it) unless empty of active staff (and, for a department, of
// teams). A removed one is NOT_FOUND.
absl::StatusOr<Events> DecideRemoveTeam(const crm::v1::Team& state,
                                        const crm::v1::RemoveTeamRequest& request,
                                        const OrgLookup& lookup);
absl::StatusOr<Events> DecideRemoveDepartment(const crm::v1::Department& state,
                                              const crm::v1::RemoveDepartmentRequest& request,
                                              const OrgLookup& lookup);

// Apply a stamped event. REQUIRE the event's aggregate_version == state.version() + 1, its
// aggregate to be this kind's resource name (and the state's, once it exists), the first event to
// be the creating one and no other to be (FAILED_PRECONDITION otherwise); DATA_LOSS for an
// envelope without payload. Set name, version, etag ("v<version>"), create_time (the first
// event's recorded_at) and update_time (recorded_at) besides the payload's fields; a removal sets
// delete_time (its recorded_at), and no event but an unknown type's applies after it.
absl::Status ApplyDepartment(crm::v1::Department& state, const Event& event);
absl::Status ApplyTeam(crm::v1::Team& state, const Event& event);
absl::Status ApplyStaff(crm::v1::Staff& state, const Event& event);

// Which aggregate kind an event belongs to, by payload.
bool IsDepartmentEvent(const Event& event);
bool IsTeamEvent(const Event& event);
bool IsStaffEvent(const Event& event);
bool IsOrgEvent(const Event& event);

// The errors the rules give for a referenced aggregate (also used by StaffDirectory), naming the
// request field that refers to it. `name` is its resource name.
absl::Status ReferenceNotFound(absl::string_view name, absl::string_view field);
absl::Status StaffInactive(absl::string_view name, absl::string_view field);

}  // namespace crm::domain::org
