// SurveyFold: folds the survey events into the survey views (layout in
// readmodel/survey/survey_views.h, all keys under "sv/"): each survey by name, and the survey
// figures per group (everyone, staff member, team, department, channel, customer tier, driver),
// counted incrementally: SurveySent adds to sent, SurveyAnswered to answered and the CSAT / NPS
// counts, SurveyExpired to expired, in every group of the survey as it was sent (its StaffRef,
// channel, tier and complaint link never change), all time and in the quarter hour of the
// event's occurred_at (the send, the answer, the answer deadline) for windowed reports. Every other
// event is ignored. Definitions: docs/analytics.md, "Surveys".
//
// Idempotent: an event whose aggregate_version the stored survey already has is skipped, and
// the figures change only with the survey, in the same batch (the runner stores the position in
// it too), so a crash re-applies nothing twice. A gap in a survey's versions or an event that does
// not apply is DATA_LOSS (dead-lettered). Deterministic: a rebuild from position zero reproduces
// the views byte for byte. Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include <string>
#include <vector>

#include "common/fold/fold_runner.h"
#include "readmodel/survey/survey_views.h"

namespace crm::projections::survey {

class SurveyFold final : public fold::Fold {
 public:
  // Bump when the keys this fold writes for the same events change. 1: the first layout; 2:
  // windowed counters per group instead of one SurveyFigures per group.
  static constexpr int64_t kVersion = 2;

  std::string name() const override { return std::string(readmodel::survey::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::survey::kViewsPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::survey
