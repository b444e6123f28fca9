// NotificationFold: folds the events into notifications (readmodel/notification), each addressed
// to one staff member with its reason. Notifications are derived, never events of their own: who
// is told of what is this one reading of the events (proto/crm/v1/README.md, "Notifications"):
//   OwnerAssigned          -> OWNER_ASSIGNED to the new owner;
//   ComplaintAssigned      -> COMPLAINT_ASSIGNED to the assignee;
//   ComplaintSlaBreached   -> SLA_BREACHED to the assignee at the breach (nobody if unassigned:
//                             the deadline watcher's automatic escalation tells the manager);
//   ComplaintEscalated     -> ESCALATED to the escalation target (`to`; nobody if there was
//                             nobody further up);
//   SurveyAnswered         -> LOW_SURVEY_ANSWER, when the CSAT is at most Options::csat_max or
//                             the NPS at most Options::nps_max, to the staff member who sent the
//                             survey and to the lead of the team they were in when they sent it
//                             (if another person), as that team's lead is in the views when the
//                             answer is folded.
// It remembers, under its own keys, who sent each survey and each team's lead; it reads no other
// fold's keys, so it refolds alone.
//
// Idempotent and deterministic: every key depends only on the record (its log position) and the
// fold's own earlier keys, so a record applied twice writes the same values and a refold writes
// the same view; the runner stores the position in the same batch. Thread-safe: stateless; the
// FoldRunner calls it from one thread.
#pragma once

#include <string>
#include <vector>

#include "common/fold/fold_runner.h"
#include "readmodel/notification/notification_views.h"

namespace crm::projections::notification {

class NotificationFold final : public fold::Fold {
 public:
  struct Options {
    // A survey answer is low when csat <= csat_max or nps <= nps_max (either given).
    int csat_max = 2;
    int nps_max = 6;
  };
  NotificationFold() : NotificationFold(Options{}) {}
  explicit NotificationFold(Options options) : options_(options) {}

  // Bump when the keys this fold writes for the same events change. 1: the first layout.
  static constexpr int64_t kVersion = 1;

  std::string name() const override { return std::string(readmodel::notification::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::notification::kViewsPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;

 private:
  const Options options_;
};

}  // namespace crm::projections::notification
