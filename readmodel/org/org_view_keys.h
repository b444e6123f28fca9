// Key layout of the org views in the views store (all under "og/", written only by
// projections/org's OrgViewFold).
//
//   og/d/<department_id>              -> crm.v1.Department (as of its last event)
//   og/t/<team_id>                    -> crm.v1.Team
//   og/s/<staff_id>                   -> crm.v1.Staff
//   og/ia/<action_id>                 -> crm.v1.ImprovementAction
//   og/x/<index>\0<value>\0<id>       -> ""  list indexes: department function, team department,
//                                            staff department, team, role, active, manager;
//                                            improvement action state, root cause, owner
//   og/w/<staff_id>                   -> crm.v1.Workload with customers_owned and open_complaints
//                                        (absent when both are 0; staff id "" = unassigned)
//   og/due/<time>\0<aggregate>        -> staff id: an open complaint (not resolved) or an open
//                                        interaction follow-up, by the time it is overdue from
//                                        (a breached complaint: the earliest time, so always)
//   og/co/<customer_id>               -> crm.v1.Customer {name, owner, version}: the owner as of
//                                        the last OwnerAssigned applied (idempotency, decrements)
//   og/cp/<complaint aggregate>       -> crm.v1.Complaint as its domain's Apply leaves it: what
//                                        the workload and the work queues need of a complaint,
//                                        and the item a queue answers
//   og/in/<interaction aggregate>     -> crm.v1.Interaction, likewise
//   og/q/<staff_id>\0<priority>\0<due>\0<aggregate> -> ""  work queues, by priority then due
//                                        time (readmodel/org/work_queue.h)
//
// '\0' separates parts: ids, enum names and resource names never contain it.
// Thread-safe: pure functions.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace crm::readmodel::org {

// Every org view key starts with this; the fold that writes them (projections/org) is named
// kFoldName, for fold::FoldRunner::Serving.
inline constexpr absl::string_view kOrgPrefix = "og/";
inline constexpr absl::string_view kFoldName = "org-views";
inline constexpr absl::string_view kDepartmentPrefix = "og/d/";
inline constexpr absl::string_view kTeamPrefix = "og/t/";
inline constexpr absl::string_view kStaffPrefix = "og/s/";
inline constexpr absl::string_view kImprovementActionPrefix = "og/ia/";
inline constexpr absl::string_view kWorkloadPrefix = "og/w/";
inline constexpr absl::string_view kDuePrefix = "og/due/";

std::string DepartmentKey(absl::string_view id);
std::string TeamKey(absl::string_view id);
std::string StaffKey(absl::string_view id);
std::string ImprovementActionKey(absl::string_view id);

enum class Index {
  kDepartmentFunction,  // departments by DepartmentFunction name
  kTeamDepartment,      // teams by department resource name
  kStaffDepartment,     // staff by department resource name
  kStaffTeam,           // staff by team resource name
  kStaffRole,           // staff by StaffRole name
  kStaffActive,         // staff by "1" (active) or "0"
  kStaffManager,        // staff by manager staff id
  kActionState,         // improvement actions by ImprovementActionState name
  kActionCause,         // improvement actions by RootCause name
  kActionOwner,         // improvement actions by owner staff id
};

// Prefix of all entries of `index` with `value`; append an id for the entry key.
std::string IndexPrefix(Index index, absl::string_view value);
std::string IndexKey(Index index, absl::string_view value, absl::string_view id);

std::string WorkloadKey(absl::string_view staff_id);

// Sortable text of a time (UTC, second then nanosecond, fixed width; times before year 1 are
// clamped to year 1). Keys by time sort in time order.
std::string SortableTime(absl::Time t);
// The due-index key of an item overdue from `from`.
std::string DueKey(absl::Time from, absl::string_view aggregate);
// The aggregate in a due-index key.
absl::string_view AggregateFromDueKey(absl::string_view key);

std::string CustomerTrackKey(absl::string_view customer_id);
std::string ComplaintTrackKey(absl::string_view aggregate);
std::string InteractionTrackKey(absl::string_view aggregate);

}  // namespace crm::readmodel::org
