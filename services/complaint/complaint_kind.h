// How the command side folds complaints: the AggregateKind of crm.v1.Complaint (its events, the
// domain's Apply) and the deadline index the deadline watcher scans (sla_watcher.h).
//
// Deadline index, in the command-state store next to the AggregateState records:
//   sla/<due time: 20-digit unix microseconds>/<complaint name>/<RESPONSE|RESOLUTION>
//   (the shape of services/command/deadline_watcher.h)
//     -> crm.v1.SlaDeadline (kind, exact due time, and whether its reminder was recorded)
// It holds exactly the open deadlines (not met, not breached) of every complaint, so a scan from
// "sla/" up to now finds the ones that are due, oldest first (and up to now + the reminder lead,
// the ones to remind of). It is written in the same batch as
// the complaint's state, so it is always consistent with it and is rebuilt with it.
//
// Thread-safe: immutable.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/complaint.pb.h"
#include "services/command/aggregate_state.h"

namespace crm::services::complaint {

inline constexpr absl::string_view kDeadlinePrefix = "sla/";

// The kind to register with command::AggregateStateFold and to pass to CommandExecutor::Execute.
const command::TypedKind<crm::v1::Complaint>& ComplaintKind();

// The index key of a deadline. Times before 1970 sort as 1970.
std::string DeadlineKey(absl::Time due, absl::string_view complaint, crm::v1::SlaKind kind);
// The first key after every deadline due at or before `t` (a scan's exclusive end).
std::string DeadlineScanEnd(absl::Time t);

// One entry of the index.
struct DeadlineEntry {
  std::string complaint;    // "customers/{cid}/complaints/{id}"
  std::string customer_id;  // the stream key
  crm::v1::SlaKind kind = crm::v1::SLA_KIND_UNSPECIFIED;
  absl::Time due;         // exact, from the value
  bool reminded = false;  // ComplaintDeadlineApproaching recorded (SlaReminders skip it)
};
// DATA_LOSS if the entry is malformed.
absl::StatusOr<DeadlineEntry> ParseDeadlineEntry(absl::string_view key, absl::string_view value);

}  // namespace crm::services::complaint
