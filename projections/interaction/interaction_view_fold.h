// InteractionViewFold: folds the log into the interaction views (layout in
// readmodel/interaction/view_keys.h, all keys under "in/"):
//   - each interaction by name, and each customer's interactions by occurred_at
//     (InteractionLogged, FollowUpCompleted);
//   - each customer's unified timeline: one entry per InteractionLogged, FollowUpCompleted,
//     complaint event (filed, acknowledged, assigned, investigation started, resolved, follow-up
//     visit, closed, reopened, escalated, SLA breached), CustomerRegistered,
//     CustomerProfileUpdated, LifecycleStageChanged, OwnerAssigned, OwnerUnassigned and
//     PurchaseRecorded, at the event's occurred_at;
//   - each staff member's open follow-ups by due time (added when an interaction with a
//     follow_up_due_time is logged, removed when it is completed).
// Every other event (tags, organisation events, payloads added later) is ignored.
//
// Idempotent: an interaction event whose aggregate_version the stored interaction already has is
// skipped; a timeline entry's key holds its event id, so re-applying any event rewrites the same
// key with the same bytes. A gap in an interaction's versions, or an interaction event that does
// not apply, or an undecodable record, is DATA_LOSS (the runner dead-letters it).
// Deterministic: the views depend only on the events, so a rebuild from position zero reproduces
// them byte for byte. Timeline entries hold facts, no text (rendered at query time).
// Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include <iterator>
#include <string>
#include <vector>

#include "common/fold/fold_runner.h"
#include "readmodel/interaction/view_keys.h"

namespace crm::projections::interaction {

class InteractionViewFold final : public fold::Fold {
 public:
  // Bump when the keys this fold writes for the same events change; the runner then refolds it
  // (common/fold/fold_runner.h). 1: the first versioned layout. 2: timeline entries without
  // the summary text. 3: survey entries (SurveySent, SurveyAnswered, SurveyExpired).
  static constexpr int64_t kVersion = 3;

  std::string name() const override { return std::string(readmodel::interaction::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::interaction::kViewsPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::interaction
