// Key layout of the segment figures (projections/segment writes, SegmentViews reads). Every key
// starts with "sg/". Counters are decimal text (readmodel/analytics/figures.h), absent when zero;
// enum values appear as their numbers.
//
//   sg/c/<customer id>       -> crm.v1.CustomerValue as folded: name, value_tier, lifetime_value,
//                               tier_changes, lifecycle_stage, stage_start_time and version (the
//                               customer's last applied aggregate_version: the idempotency guard).
//                               main_currency, rfm and as_of are computed at query time.
//   sg/s/<customer id>       -> crm.v1.Customer: the customer as the domain's Apply folds it (the
//                               one reading of a customer event); the figures are its changes.
//   sg/n/total               -> customers registered
//   sg/n/tier/<tier>         -> customers per value tier
//   sg/n/stage/<stage>       -> customers per lifecycle stage
//   sg/t/<time>/<customer id>\0<version, 20 digits> -> "<from stage>,<to stage>,<stay ms>": one
//                               lifecycle move, keyed by its occurred_at (OrderedTime) so that a
//                               window query scans only the window; <stay ms> is the time spent in
//                               <from stage>, from the time the customer entered it.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace crm::readmodel::segment {

inline constexpr absl::string_view kSegmentPrefix = "sg/";
// The fold that writes these figures (projections/segment), for fold::FoldRunner::Serving.
inline constexpr absl::string_view kFoldName = "segments";

std::string CustomerValueKey(absl::string_view customer_id);
std::string CustomerStateKey(absl::string_view customer_id);

inline constexpr absl::string_view kCustomerTotalKey = "sg/n/total";
inline constexpr absl::string_view kTierPrefix = "sg/n/tier/";
inline constexpr absl::string_view kStagePrefix = "sg/n/stage/";
std::string TierKey(int tier);
std::string StageKey(int stage);

inline constexpr absl::string_view kTransitionPrefix = "sg/t/";
std::string TransitionKey(absl::Time at, absl::string_view customer_id, int64_t version);
// The first key of moves at or after `t`.
std::string TransitionBound(absl::Time t);

struct Transition {
  int from_stage = 0;
  int to_stage = 0;
  int64_t stay_millis = 0;
};
std::string EncodeTransition(const Transition& transition);
// nullopt if malformed.
std::optional<Transition> DecodeTransition(absl::string_view value);

}  // namespace crm::readmodel::segment
