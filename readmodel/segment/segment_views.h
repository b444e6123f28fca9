// SegmentViews: reads the segment figures that projections/segment folds (layout in
// segment_keys.h, definitions in docs/analytics.md): a customer's value (RFM, tier and its
// changes, lifetime value), segment sizes and the lifecycle funnel.
//
// Reads only the keys of the figure asked for: one record, the size counters, or the lifecycle
// moves inside the requested window. RFM is scored here, at query time, against `as_of`.
// Errors: INTERNAL for an undecodable figure, UNAVAILABLE for store trouble.
// Thread-safe: const methods over a thread-safe KvStore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/kv/kv_store.h"
#include "crm/v1/segment_service.pb.h"
#include "readmodel/segment/segment_keys.h"

namespace crm::readmodel::segment {

// RFM thresholds (docs/analytics.md). Score 5 - i for the first i whose bound holds; 1 when none
// does (and there is a purchase); 0 without purchases.
// Recency: whole days since the last purchase <= the bound.
inline constexpr int64_t kRecencyMaxDays[4] = {30, 90, 180, 365};
// Frequency: purchases (all currencies) >= the bound.
inline constexpr int64_t kFrequencyMinPurchases[4] = {20, 10, 5, 2};
// Monetary: total in the main currency, in minor units, >= the bound.
inline constexpr int64_t kMonetaryMinMinor[4] = {1'000'000, 500'000, 100'000, 10'000};

// The currency with the most purchases; ties: the larger total, then the smaller code. Empty if
// there is none.
std::string MainCurrency(const crm::v1::ValueFigures& value);
// RFM of `value` evaluated at `as_of`.
crm::v1::RfmScores ScoreRfm(const crm::v1::ValueFigures& value, absl::Time as_of);

class SegmentViews {
 public:
  // Does not take ownership.
  explicit SegmentViews(const kv::KvStore* store) : store_(store) {}

  // The customer's value with main_currency, rfm and as_of filled in; nullopt if unknown.
  absl::StatusOr<std::optional<crm::v1::CustomerValue>> GetCustomerValue(
      absl::string_view customer_id, absl::Time as_of) const;
  absl::StatusOr<crm::v1::SegmentSizes> GetSegmentSizes() const;
  // Moves with occurred_at in [start, end) (nullopt: unbounded).
  absl::StatusOr<crm::v1::LifecycleFunnel> GetLifecycleFunnel(std::optional<absl::Time> start,
                                                              std::optional<absl::Time> end) const;

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::segment
