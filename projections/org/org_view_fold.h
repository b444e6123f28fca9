// OrgViewFold: folds events into the org views (layout in readmodel/org/org_view_keys.h):
//   - org events (departments, teams, staff, improvement actions): the records and their list
//     indexes;
//   - OwnerAssigned / OwnerUnassigned: customers owned per staff member (+1 the new owner, -1
//     the previous one);
//   - complaint events: open complaints per assignee (assigned and not closed; reassign, close and
//     reopen move the count) and the due index of complaints not yet resolved (overdue from the
//     earliest pending deadline, or always once an SLA breach is recorded; a reopen starts over);
//   - InteractionLogged with a follow_up_due_time / FollowUpCompleted: the due index of open
//     follow-ups per staff member.
//   - from the same complaint and interaction states: the work queues (readmodel/org/
//     work_queue.h), one entry per holder of an open complaint and per open follow-up, keyed
//     by (staff member, priority, due time); an assignment, escalation, resolution, reopening,
//     closing or completed follow-up moves or removes the entries.
// Departments, teams, staff, complaints and interactions are kept as their domain's Apply makes
// them (the one reading of their events, as the command side has it); the workload and due
// index are derived from those states. Owners are an index of OwnerAssigned and
// OwnerUnassigned alone. A removed department or team keeps its record (with delete_time, for
// idempotency) but leaves every list index.
// Every other event is ignored. Writes only keys under "og/".
//
// Idempotent: each aggregate's (department, team, staff member, customer, complaint,
// interaction) last applied version is kept under og/ and an event at or below it is skipped,
// so a re-applied record changes nothing. Deterministic: the views depend only on the events
// (overdue is evaluated by the reader against a time it is given), so a rebuild from position
// zero reproduces them byte for byte. An org event that does not apply (version gap) or an
// undecodable record is DATA_LOSS (the runner dead-letters it), as is a complaint or interaction
// event its domain's Apply refuses.
// Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include <iterator>
#include <string>
#include <vector>

#include "common/fold/fold_runner.h"
#include "readmodel/org/org_view_keys.h"

namespace crm::projections::org {

class OrgViewFold final : public fold::Fold {
 public:
  // Bump when the keys this fold writes for the same events change; the runner then refolds it
  // (common/fold/fold_runner.h). 1: the first versioned layout. 2: the work queues (og/q/).
  // 3: improvement actions (og/ia/).
  static constexpr int64_t kVersion = 3;

  std::string name() const override { return std::string(readmodel::org::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::org::kOrgPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::org
