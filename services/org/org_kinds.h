// The org's aggregate kinds for the command side: how AggregateStateFold folds department, team,
// staff and improvement action events into the command-state store (records "a/departments/{id}",
// "a/teams/{id}", "a/staff/{id}"), with domain/org's pure Apply functions.
//
// The staff kind also keeps an index of the active members of each team in the command-state
// store, for the rule that a team with active members cannot move to another department:
//   org/tm/<team_id>\0<staff_id> -> ""
//
// The lead registers OrgKinds() in the AggregateStateFold of every process that runs org
// commands or looks staff up (StaffDirectory). Thread-safe: immutable singletons.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/v1/improvement.pb.h"
#include "crm/v1/org.pb.h"
#include "services/command/aggregate_state.h"

namespace crm::services::org {

const command::TypedKind<crm::v1::Department>& DepartmentKind();
const command::TypedKind<crm::v1::Team>& TeamKind();
const command::TypedKind<crm::v1::Staff>& StaffKind();
// Improvement actions (domain/improvement), records "a/improvementActions/{id}".
const command::TypedKind<crm::v1::ImprovementAction>& ImprovementActionKind();
// The four above, for AggregateStateFold.
std::vector<const command::AggregateKind*> OrgKinds();

// Staff ids of the active members of a team (bare id), in id order, from the index above.
absl::StatusOr<std::vector<std::string>> ActiveTeamMembers(const command::AggregateState& state,
                                                           absl::string_view team_id);

// For RemoveDepartment, which is rare: the staff ids of a department's active staff and the team
// ids of its teams (not removed), in id order. They scan every staff or team record of the
// command state (an organisation's size), so they need no index of their own.
absl::StatusOr<std::vector<std::string>> ActiveDepartmentMembers(
    const command::AggregateState& state, absl::string_view department_id);
absl::StatusOr<std::vector<std::string>> DepartmentTeams(const command::AggregateState& state,
                                                         absl::string_view department_id);

}  // namespace crm::services::org
