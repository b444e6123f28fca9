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
#include "readmodel/analytics/analytics_keys.h"

namespace crm::readmodel::analytics {

class AnalyticsViews {
 public:
  // Does not take ownership.
  explicit AnalyticsViews(const kv::KvStore* store) : store_(store) {}

  // Day and month buckets are limited to those starting in [start, end) (nullopt: unbounded).
  absl::StatusOr<crm::v1::ComplaintStats> GetComplaintStats(std::optional<absl::Time> start,
                                                            std::optional<absl::Time> end) const;
  absl::StatusOr<crm::v1::SlaCompliance> GetSlaCompliance() const;
  // COMPLAINT_SEVERITY_UNSPECIFIED: all complaints.
  absl::StatusOr<crm::v1::ResponseTimes> GetResponseTimes(
      crm::v1::ComplaintSeverity severity) const;
  absl::StatusOr<crm::v1::Satisfaction> GetSatisfaction(const crm::v1::StaffScope& scope) const;
  absl::StatusOr<crm::v1::InteractionStats> GetInteractionStats() const;
  absl::StatusOr<crm::v1::RootCauseRanking> GetRootCauses() const;
  absl::StatusOr<crm::v1::StaffKpis> GetStaffKpis(const crm::v1::StaffScope& scope) const;

  // The key scope and id of a StaffScope (unset: everyone).
  static std::pair<Scope, std::string> KeyScope(const crm::v1::StaffScope& scope);

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::analytics
