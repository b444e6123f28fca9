#include "readmodel/segment/segment_views.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "readmodel/analytics/figures.h"

namespace crm::readmodel::segment {
namespace {

using analytics::EnumCounts;
using analytics::ToDurationProto;
using analytics::ToTime;
using analytics::ToTimestamp;

int Score(bool (*holds)(int64_t value, int64_t bound), int64_t value, const int64_t (&bounds)[4]) {
  for (int i = 0; i < 4; ++i) {
    if (holds(value, bounds[i])) return 5 - i;
  }
  return 1;
}

absl::StatusOr<std::vector<crm::v1::StageSize>> StageSizes(const kv::KvStore& store) {
  CRM_ASSIGN_OR_RETURN(auto counts, analytics::ScanEnumCounters(store, kStagePrefix));
  std::vector<crm::v1::StageSize> out;
  for (const auto& [stage, n] : EnumCounts(crm::v1::LifecycleStage_descriptor(), counts)) {
    crm::v1::StageSize s;
    s.set_lifecycle_stage(static_cast<crm::v1::LifecycleStage>(stage));
    s.set_customers(n);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::string MainCurrency(const crm::v1::ValueFigures& value) {
  const crm::v1::CurrencyTotal* best = nullptr;
  for (const auto& t : value.totals()) {
    if (t.purchase_count() <= 0) continue;
    if (best == nullptr || t.purchase_count() > best->purchase_count() ||
        (t.purchase_count() == best->purchase_count() &&
         (t.total_minor() > best->total_minor() ||
          (t.total_minor() == best->total_minor() && t.currency_code() < best->currency_code())))) {
      best = &t;
    }
  }
  return best == nullptr ? "" : best->currency_code();
}

crm::v1::RfmScores ScoreRfm(const crm::v1::ValueFigures& value, absl::Time as_of) {
  crm::v1::RfmScores rfm;
  if (value.purchase_count() > 0) {
    int64_t days = 0;
    if (value.has_last_purchase_time()) {
      const absl::Time last = ToTime(value.last_purchase_time());
      absl::Duration rest;
      if (as_of > last) days = absl::IDivDuration(as_of - last, absl::Hours(24), &rest);
      rfm.set_days_since_last_purchase(days);
      rfm.set_recency(Score([](int64_t v, int64_t b) { return v <= b; }, days, kRecencyMaxDays));
    }
    rfm.set_frequency(Score([](int64_t v, int64_t b) { return v >= b; }, value.purchase_count(),
                            kFrequencyMinPurchases));
    const std::string main = MainCurrency(value);
    for (const auto& t : value.totals()) {
      if (t.currency_code() == main) {
        rfm.set_monetary(
            Score([](int64_t v, int64_t b) { return v >= b; }, t.total_minor(), kMonetaryMinMinor));
      }
    }
  }
  rfm.set_cell(absl::StrCat(rfm.recency(), rfm.frequency(), rfm.monetary()));
  return rfm;
}

absl::StatusOr<std::optional<crm::v1::CustomerValue>> SegmentViews::GetCustomerValue(
    absl::string_view customer_id, absl::Time as_of) const {
  const std::string key = CustomerValueKey(customer_id);
  CRM_ASSIGN_OR_RETURN(auto stored, store_->Get(key));
  if (!stored.has_value()) return std::nullopt;
  crm::v1::CustomerValue value;
  if (!value.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("segment figure ", key, " cannot be decoded"));
  }
  value.mutable_lifetime_value();  // Present (zero) for a customer without purchases.
  value.set_main_currency(MainCurrency(value.lifetime_value()));
  *value.mutable_rfm() = ScoreRfm(value.lifetime_value(), as_of);
  *value.mutable_as_of() = ToTimestamp(as_of);
  return value;
}

absl::StatusOr<crm::v1::SegmentSizes> SegmentViews::GetSegmentSizes() const {
  crm::v1::SegmentSizes out;
  CRM_ASSIGN_OR_RETURN(int64_t total, analytics::ReadCounter(*store_, kCustomerTotalKey));
  out.set_customers(total);
  CRM_ASSIGN_OR_RETURN(auto tiers, analytics::ScanEnumCounters(*store_, kTierPrefix));
  for (const auto& [tier, n] : EnumCounts(crm::v1::ValueTier_descriptor(), tiers)) {
    auto* t = out.add_value_tiers();
    t->set_value_tier(static_cast<crm::v1::ValueTier>(tier));
    t->set_customers(n);
  }
  CRM_ASSIGN_OR_RETURN(auto stages, StageSizes(*store_));
  for (auto& s : stages) *out.add_lifecycle_stages() = std::move(s);
  return out;
}

absl::StatusOr<crm::v1::LifecycleFunnel> SegmentViews::GetLifecycleFunnel(
    std::optional<absl::Time> start, std::optional<absl::Time> end) const {
  crm::v1::LifecycleFunnel out;
  CRM_ASSIGN_OR_RETURN(auto stages, StageSizes(*store_));
  for (auto& s : stages) *out.add_current_stages() = std::move(s);
  if (start.has_value()) *out.mutable_start_time() = ToTimestamp(*start);
  if (end.has_value()) *out.mutable_end_time() = ToTimestamp(*end);

  std::map<std::pair<int, int>, int64_t> moves;
  std::map<int, int64_t> exits;
  std::map<int, std::vector<int64_t>> stays;
  absl::Status decoded;
  const std::string from =
      start.has_value() ? TransitionBound(*start) : std::string(kTransitionPrefix);
  const std::string to =
      end.has_value() ? TransitionBound(*end) : analytics::PrefixEnd(kTransitionPrefix);
  CRM_RETURN_IF_ERROR(
      store_->Scan(from, to, 0, [&](absl::string_view key, absl::string_view value) {
        std::optional<Transition> t = DecodeTransition(value);
        if (!t.has_value()) {
          decoded = absl::InternalError(
              absl::StrCat("lifecycle move cannot be decoded: ", key.substr(0, key.find('\0'))));
          return false;
        }
        ++moves[{t->from_stage, t->to_stage}];
        ++exits[t->from_stage];
        stays[t->from_stage].push_back(t->stay_millis);
        return true;
      }));
  CRM_RETURN_IF_ERROR(decoded);

  int64_t count = 0;
  for (const auto& [pair, n] : moves) {
    auto* m = out.add_transitions();
    m->set_from_stage(static_cast<crm::v1::LifecycleStage>(pair.first));
    m->set_to_stage(static_cast<crm::v1::LifecycleStage>(pair.second));
    m->set_count(n);
    count += n;
  }
  out.set_transition_count(count);
  for (int stage = crm::v1::POTENTIAL; stage < crm::v1::LOYAL; ++stage) {
    auto* c = out.add_conversions();
    c->set_from_stage(static_cast<crm::v1::LifecycleStage>(stage));
    c->set_to_stage(static_cast<crm::v1::LifecycleStage>(stage + 1));
    auto e = exits.find(stage);
    auto m = moves.find({stage, stage + 1});
    c->set_exits(e == exits.end() ? 0 : e->second);
    c->set_converted(m == moves.end() ? 0 : m->second);
    c->set_rate(c->exits() == 0
                    ? 0.0
                    : static_cast<double>(c->converted()) / static_cast<double>(c->exits()));
  }
  for (auto& [stage, millis] : stays) {
    std::sort(millis.begin(), millis.end());
    auto* d = out.add_time_in_stage();
    d->set_stage(static_cast<crm::v1::LifecycleStage>(stage));
    d->set_stays(static_cast<int64_t>(millis.size()));
    // Lower median: the ceil(n / 2)-th smallest.
    *d->mutable_median() = ToDurationProto(absl::Milliseconds(millis[(millis.size() + 1) / 2 - 1]));
  }
  return out;
}

}  // namespace crm::readmodel::segment
