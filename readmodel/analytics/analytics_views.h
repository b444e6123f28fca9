// AnalyticsViews: reads the analytics figures that projections/analytics folds (layout in
// analytics_keys.h, definitions in docs/analytics.md) and answers them as crm.v1 messages.
//
// Each method reads only the keys of the figure it answers (point reads, or a scan of that
// figure's prefix), never the whole store. Reads see whatever the fold has applied so far;
// callers wanting read-your-writes first wait for a consistency token (fold::FoldRunner::WaitFor).
// Errors: INTERNAL for a figure that cannot be decoded, UNAVAILABLE for store trouble.
// Thread-safe: const methods over a thread-safe KvStore.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/kv/kv_store.h"
#include "crm/v1/analytics_service.pb.h"
#include "crm/v1/improvement.pb.h"
#include "readmodel/analytics/analytics_keys.h"
#include "readmodel/analytics/figures.h"

namespace crm::readmodel::analytics {

class AnalyticsViews {
 public:
  // Does not take ownership.
  explicit AnalyticsViews(const kv::KvStore* store) : store_(store) {}

  // Day and month buckets are limited to those starting in [start, end) (nullopt: unbounded).
  // Every figure is limited to `window` (docs/analytics.md says which event time decides);
  // REQUIRES: each set end of the window is on a time bucket edge (figures.h, OnTimeBucketEdge).

  // The complaints filed in the window. Day, week and month buckets are those of `zone`;
  // `bucket_start`/`bucket_end` further limit them to those starting in [start, end)
  // (nullopt: unbounded; GetComplaintStatsRequest.start_time/end_time).
  absl::StatusOr<crm::v1::ComplaintStats> GetComplaintStats(
      const Window& window, const absl::TimeZone& zone,
      std::optional<absl::Time> bucket_start = std::nullopt,
      std::optional<absl::Time> bucket_end = std::nullopt) const;
  absl::StatusOr<crm::v1::SlaCompliance> GetSlaCompliance(const Window& window = {}) const;
  // COMPLAINT_SEVERITY_UNSPECIFIED: all complaints.
  absl::StatusOr<crm::v1::ResponseTimes> GetResponseTimes(crm::v1::ComplaintSeverity severity,
                                                          const Window& window = {}) const;
  absl::StatusOr<crm::v1::Satisfaction> GetSatisfaction(const crm::v1::StaffScope& scope,
                                                        const Window& window = {}) const;
  absl::StatusOr<crm::v1::InteractionStats> GetInteractionStats(const Window& window = {}) const;
  absl::StatusOr<crm::v1::RootCauseRanking> GetRootCauses(const Window& window = {}) const;
  absl::StatusOr<crm::v1::StaffKpis> GetStaffKpis(const crm::v1::StaffScope& scope,
                                                  const Window& window = {}) const;
  // Empty product: every product. With `zone`, also the sales per day, week and month of it.
  absl::StatusOr<crm::v1::SalesStats> GetSalesStats(
      const crm::v1::StaffScope& scope, const std::string& product, const Window& window = {},
      std::optional<absl::TimeZone> zone = std::nullopt) const;
  absl::StatusOr<crm::v1::Retention> GetRetention(const Window& window = {}) const;
  absl::StatusOr<crm::v1::ConversionTime> GetConversionTime(crm::v1::LifecycleStage from,
                                                            crm::v1::LifecycleStage to,
                                                            const Window& window = {}) const;

  // The effect of an improvement action (OrgQueryService.GetImprovementEffect): the resolutions
  // of `root_cause` (as GetRootCauses counts them) in the `period` before the pivot, `done`
  // rounded down to a quarter hour, and in the period from the pivot, cut at the end of the
  // quarter hour holding `now` (the period so far). Fills before, after and change, not
  // improvement_action. REQUIRES: period > 0.
  absl::StatusOr<crm::v1::ImprovementEffect> GetImprovementEffect(crm::v1::RootCause root_cause,
                                                                  absl::Time done,
                                                                  absl::Duration period,
                                                                  absl::Time now) const;

  // The key scope and id of a StaffScope (unset: everyone).
  static std::pair<Scope, std::string> KeyScope(const crm::v1::StaffScope& scope);

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::analytics
