// AnalyticsFold: folds complaint and interaction events into the analytics figures (layout in
// readmodel/analytics/analytics_keys.h, definitions in docs/analytics.md): complaint counts, SLA
// outcomes, first-response and resolution times, CSAT, interaction mix, root causes and KPIs per
// staff member, team and department; sales per owner, team, department and product, repeat
// purchases, churn and conversion times between lifecycle stages. Every counter is kept for all
// time and per quarter-hour time bucket (readmodel/analytics/figures.h, CountAt), so a report
// window is answered from the buckets.
//
// Figures credited to someone use only the StaffRef stamped in the event, never org state,
// so the figures depend on the events alone. A complaint's state (status, deadlines and their
// outcomes, resolution time) is the domain's: domain::complaint::Apply, the one reading of a
// complaint event that the command side and the complaint view use; its figures are what an
// event changed in that state, plus the credits the event stamps. Idempotent: the complaint
// state keeps its version, and the last applied aggregate_version of each interaction is kept
// under "an/v/"; an event at or below it is skipped, so redelivery changes nothing. Deterministic:
// a rebuild from zero writes the same bytes. A customer's sales are credited to its owner and
// the owner's team and department as recorded in the customer's last OwnerAssigned (the
// customer's own stream, so the same on every rebuild and on any partitioning; org events are
// not followed). Org events are ignored; an undecodable record is DATA_LOSS. Writes only keys under
// "an/". Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include <iterator>
#include <string>
#include <vector>

#include "common/fold/fold_runner.h"
#include "readmodel/analytics/analytics_keys.h"

namespace crm::projections::analytics {

class AnalyticsFold final : public fold::Fold {
 public:
  // Bump when the keys this fold writes for the same events change; the runner then refolds it
  // (common/fold/fold_runner.h). 1: the first versioned layout. 2: a complaint's state is the
  // domain's (domain::complaint::Apply); figures are the changes it makes. 3: durations are
  // also counted in buckets (DurationBucketKey), so a percentile does not read every duration.
  // 4: every counter is also kept per quarter-hour time bucket (report windows); duration
  // entries under an/rd/ with their time; day and month keys gone (buckets in the zone are
  // summed from the quarter hours); customers' sales, retention and conversion times.
  // 5: customers merged away (CustomerMergedInto) leave the churn base.
  static constexpr int64_t kVersion = 5;

  std::string name() const override { return std::string(readmodel::analytics::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::analytics::kAnalyticsPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::analytics
