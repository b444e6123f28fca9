#include "readmodel/segment/segment_keys.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "readmodel/analytics/figures.h"

namespace crm::readmodel::segment {

std::string CustomerValueKey(absl::string_view customer_id) {
  return absl::StrCat("sg/c/", customer_id);
}

std::string CustomerStateKey(absl::string_view customer_id) {
  return absl::StrCat("sg/s/", customer_id);
}

std::string TierKey(int tier) { return absl::StrCat(kTierPrefix, tier); }

std::string StageKey(int stage) { return absl::StrCat(kStagePrefix, stage); }

std::string TransitionKey(absl::Time at, absl::string_view customer_id, int64_t version) {
  return absl::StrCat(TransitionBound(at), "/", customer_id, absl::string_view("\0", 1),
                      analytics::OrderedNumber(version));
}

std::string TransitionBound(absl::Time t) {
  return absl::StrCat(kTransitionPrefix, analytics::OrderedTime(t));
}

std::string EncodeTransition(const Transition& transition) {
  return absl::StrCat(transition.from_stage, ",", transition.to_stage, ",", transition.stay_millis);
}

std::optional<Transition> DecodeTransition(absl::string_view value) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, ',');
  Transition t;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &t.from_stage) ||
      !absl::SimpleAtoi(parts[1], &t.to_stage) || !absl::SimpleAtoi(parts[2], &t.stay_millis)) {
    return std::nullopt;
  }
  return t;
}

}  // namespace crm::readmodel::segment
