#include "readmodel/analytics/analytics_views.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/base/status_macros.h"
#include "readmodel/analytics/figures.h"

namespace crm::readmodel::analytics {
namespace {

// A day, ISO 8601 week or month of a time zone: its local midnight (of the day, the week's
// Monday, the month's first day) and its label ("YYYY-MM-DD", "YYYY-Www", "YYYY-MM").
enum class Period { kDay, kWeek, kMonth };
struct LocalBucket {
  absl::Time start;
  std::string label;
  bool operator<(const LocalBucket& other) const { return start < other.start; }
};

LocalBucket LocalBucketOf(absl::Time t, const absl::TimeZone& zone, Period period) {
  const absl::CivilDay day = absl::ToCivilDay(t, zone);
  switch (period) {
    case Period::kDay:
      return {absl::FromCivil(day, zone), absl::FormatCivilTime(day)};
    case Period::kWeek: {
      const absl::CivilDay monday = day - (static_cast<int>(absl::GetWeekday(day)) -
                                           static_cast<int>(absl::Weekday::monday) + 7) %
                                              7;
      // ISO 8601: the week belongs to the year of its Thursday.
      const absl::CivilDay thursday = monday + 3;
      return {
          absl::FromCivil(monday, zone),
          absl::StrFormat("%04d-W%02d", thursday.year(), (absl::GetYearDay(thursday) - 1) / 7 + 1)};
    }
    case Period::kMonth:
      return {absl::FromCivil(absl::CivilMonth(day), zone),
              absl::FormatCivilTime(absl::CivilMonth(day))};
  }
  return {};
}

// Whether a bucket starting at `start` is kept by the bucket-start filter [from, to).
bool BucketKept(absl::Time start, std::optional<absl::Time> from, std::optional<absl::Time> to) {
  return (!from.has_value() || start >= *from) && (!to.has_value() || start < *to);
}

// Local time buckets (day, ISO week, month of `zone`) of the filings per quarter hour, oldest
// first; only buckets starting in [bucket_start, bucket_end) (nullopt: unbounded); adds the day
// counts returned to *day_sum.
void LocalBuckets(const std::map<int64_t, int64_t>& filed, const absl::TimeZone& zone,
                  std::optional<absl::Time> bucket_start, std::optional<absl::Time> bucket_end,
                  crm::v1::ComplaintStats* out, int64_t* day_sum) {
  for (const auto& [period, list] : {std::pair(Period::kDay, out->mutable_days()),
                                     std::pair(Period::kWeek, out->mutable_weeks()),
                                     std::pair(Period::kMonth, out->mutable_months())}) {
    std::map<LocalBucket, int64_t> counts;
    for (const auto& [bucket, n] : filed) {
      if (n != 0) counts[LocalBucketOf(TimeBucketStart(bucket), zone, period)] += n;
    }
    for (const auto& [local, n] : counts) {
      if (!BucketKept(local.start, bucket_start, bucket_end)) continue;
      auto* b = list->Add();
      b->set_bucket(local.label);
      *b->mutable_start_time() = ToTimestamp(local.start);
      b->set_count(n);
      if (period == Period::kDay) *day_sum += n;
    }
  }
}

crm::v1::SlaOutcomes Outcomes(const std::map<SlaOutcome, int64_t>& counts) {
  auto get = [&](SlaOutcome o) {
    auto it = counts.find(o);
    return it == counts.end() ? int64_t{0} : it->second;
  };
  crm::v1::SlaOutcomes out;
  out.set_met(get(SlaOutcome::kMet));
  out.set_breached(get(SlaOutcome::kBreached));
  out.set_late(get(SlaOutcome::kLate));
  out.set_pending(get(SlaOutcome::kPending));
  const int64_t decided = out.met() + out.breached() + out.late();
  out.set_compliance_rate(
      decided == 0 ? 0.0 : static_cast<double>(out.met()) / static_cast<double>(decided));
  return out;
}

// The rank-th smallest duration (1-based) of the figure in the window, given its bucket counts
// in the window (by bucket number): the bucket counters say which bucket holds it, then only
// that bucket's entries are read (those recorded outside the window skipped).
absl::StatusOr<int64_t> RankedDuration(const kv::KvStore& store, absl::string_view prefix,
                                       const std::map<int, int64_t>& buckets, int64_t rank,
                                       const Window& window) {
  int64_t below = 0;  // durations in the buckets before the one holding the rank-th
  int bucket = -1;
  for (const auto& [b, n] : buckets) {
    if (below + n >= rank) {
      bucket = b;
      break;
    }
    below += n;
  }
  if (bucket < 0) {
    return absl::InternalError(absl::StrCat("duration figure ", prefix, " has ", below,
                                            " durations in buckets for a rank of ", rank));
  }
  const std::string list = DurationListPrefix(prefix);
  const std::string from = window.start.has_value() ? OrderedTime(*window.start) : "";
  const std::string to = window.end.has_value() ? OrderedTime(*window.end) : "";
  const int64_t wanted = rank - below;  // its place in the bucket, from 1
  int64_t seen = 0;
  int64_t millis = -1;
  CRM_RETURN_IF_ERROR(store.Scan(absl::StrCat(list, OrderedNumber(DurationBucketStart(bucket))),
                                 PrefixEnd(list), 0,
                                 [&](absl::string_view key, absl::string_view at) {
                                   const int64_t m = DurationOfEntryKey(key, list);
                                   if (m < 0 || DurationBucketOf(m) != bucket) return false;
                                   if ((!from.empty() && at < from) || (!to.empty() && at >= to))
                                     return true;
                                   millis = m;
                                   return ++seen < wanted;
                                 }));
  if (seen != wanted || millis < 0) {
    return absl::InternalError(
        absl::StrCat("duration figure ", prefix, " has fewer entries than its bucket counts"));
  }
  return millis;
}

absl::StatusOr<crm::v1::DurationStats> ReadDurationFigure(const kv::KvStore& store,
                                                          absl::string_view prefix,
                                                          const Window& window) {
  CRM_ASSIGN_OR_RETURN(auto counters, ReadFigure(store, prefix, window));
  int64_t count = 0;
  int64_t sum = 0;
  std::map<int, int64_t> buckets;
  for (const auto& [dims, n] : counters) {
    absl::string_view rest = dims;
    int bucket = 0;
    if (dims == kDurationCountDims) {
      count = n;
    } else if (dims == kDurationSumDims) {
      sum = n;
    } else if (absl::ConsumePrefix(&rest, kDurationBucketDims) && absl::SimpleAtoi(rest, &bucket)) {
      buckets[bucket] += n;
    } else {
      return absl::InternalError(absl::StrCat("malformed duration figure key ", prefix, dims));
    }
  }
  crm::v1::DurationStats out;
  out.set_count(count);
  *out.mutable_total() = ToDurationProto(absl::Milliseconds(sum));
  *out.mutable_mean() =
      ToDurationProto(count == 0 ? absl::ZeroDuration() : absl::Milliseconds(sum) / count);
  *out.mutable_p90() = ToDurationProto(absl::ZeroDuration());
  *out.mutable_median() = ToDurationProto(absl::ZeroDuration());
  if (count == 0) return out;
  CRM_ASSIGN_OR_RETURN(int64_t p90,
                       RankedDuration(store, prefix, buckets, NearestRank(count, 90), window));
  CRM_ASSIGN_OR_RETURN(int64_t median,
                       RankedDuration(store, prefix, buckets, NearestRank(count, 50), window));
  *out.mutable_p90() = ToDurationProto(absl::Milliseconds(p90));
  *out.mutable_median() = ToDurationProto(absl::Milliseconds(median));
  return out;
}

int64_t Get(const std::map<std::string, int64_t>& m, absl::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? 0 : it->second;
}

// Counters keyed "<prefix><enum number>" among a figure's dims.
absl::StatusOr<std::map<int, int64_t>> EnumDims(const std::map<std::string, int64_t>& dims,
                                                absl::string_view prefix) {
  std::map<int, int64_t> out;
  for (const auto& [d, n] : dims) {
    absl::string_view rest = d;
    if (!absl::ConsumePrefix(&rest, prefix)) continue;
    int value = 0;
    if (!absl::SimpleAtoi(rest, &value)) {
      return absl::InternalError(absl::StrCat("malformed figure dimension ", d));
    }
    out[value] += n;
  }
  return out;
}

// The sum of the pairs of purchase times of `order` inside the window (both times in it).
absl::StatusOr<int64_t> GapsInside(const kv::KvStore& store, int order, const Window& window) {
  if (window.AllTime()) {
    return ReadCounter(store, absl::StrCat(kRetentionFigure, GapTotalDims(order)));
  }
  const std::string prefix = GapPrefix(order);
  const std::string from =
      window.start.has_value()
          ? absl::StrCat(prefix, absl::Dec(TimeBucketOf(*window.start), absl::kZeroPad11))
          : prefix;
  const std::string to =
      window.end.has_value()
          ? absl::StrCat(prefix, absl::Dec(TimeBucketOf(*window.end), absl::kZeroPad11))
          : PrefixEnd(prefix);
  const int64_t end_bucket = window.end.has_value() ? TimeBucketOf(*window.end) : -1;
  int64_t sum = 0;
  absl::Status parsed;
  CRM_RETURN_IF_ERROR(store.Scan(from, to, 0, [&](absl::string_view key, absl::string_view value) {
    absl::StatusOr<int64_t> n = ParseCounter(key, value);
    int64_t b = 0;
    if (!n.ok() || key.size() != prefix.size() + 23 ||
        !absl::SimpleAtoi(key.substr(prefix.size() + 12), &b)) {
      parsed = n.ok() ? absl::InternalError(absl::StrCat("malformed purchase pair key ", key))
                      : n.status();
      return false;
    }
    if (end_bucket < 0 || b < end_bucket) sum += *n;
    return true;
  }));
  CRM_RETURN_IF_ERROR(parsed);
  return sum;
}

}  // namespace

std::pair<Scope, std::string> AnalyticsViews::KeyScope(const crm::v1::StaffScope& scope) {
  switch (scope.scope_case()) {
    case crm::v1::StaffScope::kStaffId:
      return {Scope::kStaff, scope.staff_id()};
    case crm::v1::StaffScope::kTeam:
      return {Scope::kTeam, scope.team()};
    case crm::v1::StaffScope::kDepartment:
      return {Scope::kDepartment, scope.department()};
    case crm::v1::StaffScope::SCOPE_NOT_SET:
      break;
  }
  return {Scope::kAll, ""};
}

absl::StatusOr<crm::v1::ComplaintStats> AnalyticsViews::GetComplaintStats(
    const Window& window, const absl::TimeZone& zone, std::optional<absl::Time> bucket_start,
    std::optional<absl::Time> bucket_end) const {
  crm::v1::ComplaintStats out;
  CRM_ASSIGN_OR_RETURN(auto dims, ReadFigure(*store_, kComplaintFigure, window));
  CRM_ASSIGN_OR_RETURN(auto filed, ReadFigure(*store_, kFiledFigure, window));
  out.set_total(Get(filed, kComplaintTotalDims));

  CRM_ASSIGN_OR_RETURN(auto categories, EnumDims(dims, "cat/"));
  for (const auto& [v, n] : EnumCounts(crm::v1::ComplaintCategory_descriptor(), categories)) {
    auto* c = out.add_categories();
    c->set_category(static_cast<crm::v1::ComplaintCategory>(v));
    c->set_count(n);
  }
  CRM_ASSIGN_OR_RETURN(auto severities, EnumDims(dims, "sev/"));
  for (const auto& [v, n] : EnumCounts(crm::v1::ComplaintSeverity_descriptor(), severities)) {
    auto* c = out.add_severities();
    c->set_severity(static_cast<crm::v1::ComplaintSeverity>(v));
    c->set_count(n);
  }
  CRM_ASSIGN_OR_RETURN(auto statuses, EnumDims(dims, "st/"));
  for (const auto& [v, n] : EnumCounts(crm::v1::ComplaintStatus_descriptor(), statuses)) {
    auto* c = out.add_statuses();
    c->set_status(static_cast<crm::v1::ComplaintStatus>(v));
    c->set_count(n);
  }
  CRM_ASSIGN_OR_RETURN(auto channels, EnumDims(dims, "ch/"));
  for (const auto& [v, n] : EnumCounts(crm::v1::Channel_descriptor(), channels)) {
    auto* c = out.add_channels();
    c->set_channel(static_cast<crm::v1::Channel>(v));
    c->set_count(n);
  }
  // The filing time series: the quarter-hour counts in the window, summed into the zone's days,
  // weeks and months.
  std::map<int64_t, int64_t> per_bucket;
  CRM_RETURN_IF_ERROR(ScanTimedFigure(*store_, kFiledFigure, window,
                                      [&](int64_t bucket, absl::string_view d, int64_t n) {
                                        if (d == kComplaintTotalDims) per_bucket[bucket] += n;
                                      }));
  int64_t window_total = 0;
  LocalBuckets(per_bucket, zone, bucket_start, bucket_end, &out, &window_total);
  out.set_window_total(window_total);
  return out;
}

absl::StatusOr<crm::v1::SlaCompliance> AnalyticsViews::GetSlaCompliance(
    const Window& window) const {
  CRM_ASSIGN_OR_RETURN(auto counters, ReadFigure(*store_, kSlaPrefix, window));
  std::map<SlaOutcome, int64_t> overall;
  std::map<int, std::map<SlaOutcome, int64_t>> by_kind = {{crm::v1::RESPONSE, {}},
                                                          {crm::v1::RESOLUTION, {}}};
  std::map<int, std::map<SlaOutcome, int64_t>> by_severity = {
      {crm::v1::MINOR, {}}, {crm::v1::GENERAL, {}}, {crm::v1::SEVERE, {}}};
  for (const auto& [rest, n] : counters) {
    int kind = 0;
    int severity = 0;
    SlaOutcome outcome;
    if (!ParseSlaKey(absl::StrCat(kSlaPrefix, rest), &kind, &severity, &outcome)) {
      return absl::InternalError(absl::StrCat("malformed SLA figure key ", kSlaPrefix, rest));
    }
    overall[outcome] += n;
    by_kind[kind][outcome] += n;
    by_severity[severity][outcome] += n;
  }
  crm::v1::SlaCompliance out;
  *out.mutable_overall() = Outcomes(overall);
  // Known values first, in enum order (std::map orders by number, and the known ones are the
  // smallest non-zero numbers), then any other value seen (0 sorts first, so it goes last).
  auto ordered = [](const std::map<int, std::map<SlaOutcome, int64_t>>& m) {
    std::vector<std::pair<int, const std::map<SlaOutcome, int64_t>*>> v;
    for (const auto& [k, counts] : m) {
      if (k != 0) v.emplace_back(k, &counts);
    }
    if (m.count(0)) v.emplace_back(0, &m.at(0));
    return v;
  };
  for (const auto& [kind, counts] : ordered(by_kind)) {
    auto* k = out.add_by_kind();
    k->set_kind(static_cast<crm::v1::SlaKind>(kind));
    *k->mutable_outcomes() = Outcomes(*counts);
  }
  for (const auto& [severity, counts] : ordered(by_severity)) {
    auto* s = out.add_by_severity();
    s->set_severity(static_cast<crm::v1::ComplaintSeverity>(severity));
    *s->mutable_outcomes() = Outcomes(*counts);
  }
  return out;
}

absl::StatusOr<crm::v1::ResponseTimes> AnalyticsViews::GetResponseTimes(
    crm::v1::ComplaintSeverity severity, const Window& window) const {
  const std::optional<int> scope = severity == crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED
                                       ? std::nullopt
                                       : std::optional<int>(severity);
  crm::v1::ResponseTimes out;
  out.set_severity(severity);
  CRM_ASSIGN_OR_RETURN(
      *out.mutable_first_response(),
      ReadDurationFigure(*store_, DurationFigurePrefix(DurationMetric::kFirstResponse, scope),
                         window));
  CRM_ASSIGN_OR_RETURN(
      *out.mutable_resolution(),
      ReadDurationFigure(*store_, DurationFigurePrefix(DurationMetric::kResolution, scope),
                         window));
  return out;
}

absl::StatusOr<crm::v1::Satisfaction> AnalyticsViews::GetSatisfaction(
    const crm::v1::StaffScope& scope, const Window& window) const {
  const auto [key_scope, id] = KeyScope(scope);
  CRM_ASSIGN_OR_RETURN(auto counters, ReadFigure(*store_, CsatPrefix(key_scope, id), window));
  crm::v1::Satisfaction out;
  *out.mutable_scope() = scope;
  int64_t count = 0;
  int64_t sum = 0;
  for (int score = 1; score <= 5; ++score) {
    auto it = counters.find(absl::StrCat(score));
    const int64_t n = it == counters.end() ? 0 : it->second;
    auto* d = out.add_distribution();
    d->set_score(score);
    d->set_count(n);
    count += n;
    sum += n * score;
  }
  out.set_count(count);
  out.set_average(count == 0 ? 0.0 : static_cast<double>(sum) / static_cast<double>(count));
  auto sat = counters.find(std::string(kSatisfiedSuffix));
  out.set_satisfied_count(sat == counters.end() ? 0 : sat->second);
  return out;
}

absl::StatusOr<crm::v1::InteractionStats> AnalyticsViews::GetInteractionStats(
    const Window& window) const {
  CRM_ASSIGN_OR_RETURN(auto figure, ReadFigure(*store_, kInteractionFigure, window));
  const int64_t total = Get(figure, kInteractionTotalDims);
  std::map<int, std::map<int, int64_t>> by_channel;  // channel -> direction -> count
  std::map<int, int64_t> channel_totals;
  std::map<int, int64_t> direction_totals;
  for (const auto& [dims, n] : figure) {
    absl::string_view rest = dims;
    if (!absl::ConsumePrefix(&rest, "cd/")) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
    int channel = 0;
    int direction = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &channel) ||
        !absl::SimpleAtoi(parts[1], &direction)) {
      return absl::InternalError(absl::StrCat("malformed interaction figure key ", rest));
    }
    by_channel[channel][direction] += n;
    channel_totals[channel] += n;
    direction_totals[direction] += n;
  }
  auto fill_directions = [](const std::map<int, int64_t>& counts,
                            google::protobuf::RepeatedPtrField<crm::v1::DirectionCount>* out) {
    for (const auto& [d, n] : EnumCounts(crm::v1::Direction_descriptor(), counts)) {
      auto* c = out->Add();
      c->set_direction(static_cast<crm::v1::Direction>(d));
      c->set_count(n);
    }
  };
  crm::v1::InteractionStats out;
  out.set_total(total);
  for (const auto& [channel, n] : EnumCounts(crm::v1::Channel_descriptor(), channel_totals)) {
    auto* c = out.add_channels();
    c->set_channel(static_cast<crm::v1::Channel>(channel));
    c->set_count(n);
    fill_directions(by_channel[channel], c->mutable_directions());
  }
  fill_directions(direction_totals, out.mutable_directions());
  return out;
}

absl::StatusOr<crm::v1::RootCauseRanking> AnalyticsViews::GetRootCauses(
    const Window& window) const {
  CRM_ASSIGN_OR_RETURN(auto figure, ReadFigure(*store_, kRootCausePrefix, window));
  CRM_ASSIGN_OR_RETURN(auto counts, EnumDims(figure, ""));
  std::vector<std::pair<int, int64_t>> ranked(counts.begin(), counts.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  int64_t total = 0;
  for (const auto& [cause, n] : ranked) total += n;
  crm::v1::RootCauseRanking out;
  out.set_total_resolutions(total);
  for (const auto& [cause, n] : ranked) {
    if (n == 0) continue;
    auto* r = out.add_root_causes();
    r->set_root_cause(static_cast<crm::v1::RootCause>(cause));
    r->set_count(n);
    r->set_share(static_cast<double>(n) / static_cast<double>(total));
  }
  return out;
}

absl::StatusOr<crm::v1::ImprovementEffect> AnalyticsViews::GetImprovementEffect(
    crm::v1::RootCause root_cause, absl::Time done, absl::Duration period, absl::Time now) const {
  const absl::Time pivot = TimeBucketStart(TimeBucketOf(done));
  const absl::Time now_edge = TimeBucketStart(TimeBucketOf(now) + 1);
  const absl::Time after_end = std::max(pivot, std::min(pivot + period, now_edge));
  crm::v1::ImprovementEffect effect;
  auto rate = [&](absl::Time start, absl::Time end, crm::v1::ComplaintRate* out) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(crm::v1::RootCauseRanking ranking,
                         GetRootCauses(Window{.start = start, .end = end}));
    int64_t n = 0;
    for (const auto& r : ranking.root_causes()) {
      if (r.root_cause() == root_cause) n = r.count();
    }
    *out->mutable_start_time() = ToTimestamp(start);
    *out->mutable_end_time() = ToTimestamp(end);
    out->set_complaints(n);
    const double days = absl::ToDoubleHours(end - start) / 24.0;
    out->set_complaints_per_30_days(days > 0 ? static_cast<double>(n) * 30.0 / days : 0.0);
    return absl::OkStatus();
  };
  CRM_RETURN_IF_ERROR(rate(pivot - period, pivot, effect.mutable_before()));
  CRM_RETURN_IF_ERROR(rate(pivot, after_end, effect.mutable_after()));
  if (effect.before().complaints_per_30_days() > 0) {
    effect.set_change(
        effect.after().complaints_per_30_days() / effect.before().complaints_per_30_days() - 1.0);
  }
  return effect;
}

absl::StatusOr<crm::v1::StaffKpis> AnalyticsViews::GetStaffKpis(const crm::v1::StaffScope& scope,
                                                                const Window& window) const {
  const auto [key_scope, id] = KeyScope(scope);
  crm::v1::StaffKpis out;
  *out.mutable_scope() = scope;
  CRM_ASSIGN_OR_RETURN(auto kpis, ReadFigure(*store_, KpiPrefix(key_scope, id), window));
  out.set_complaints_assigned(Get(kpis, KpiName(Kpi::kAssigned)));
  out.set_complaints_resolved(Get(kpis, KpiName(Kpi::kResolved)));
  out.set_sla_breaches(Get(kpis, KpiName(Kpi::kBreached)));
  out.set_interactions_logged(Get(kpis, KpiName(Kpi::kInteractions)));
  CRM_ASSIGN_OR_RETURN(*out.mutable_satisfaction(), GetSatisfaction(scope, window));
  return out;
}

absl::StatusOr<crm::v1::SalesStats> AnalyticsViews::GetSalesStats(
    const crm::v1::StaffScope& scope, const std::string& product, const Window& window,
    std::optional<absl::TimeZone> zone) const {
  const auto [key_scope, id] = KeyScope(scope);
  CRM_ASSIGN_OR_RETURN(auto figure, ReadFigure(*store_, SalesPrefix(key_scope, id), window));
  // product -> currency -> (sum, count)
  std::map<std::string, std::map<std::string, std::pair<int64_t, int64_t>>> sales;
  for (const auto& [dims, n] : figure) {
    std::string p;
    std::string currency;
    bool sum = false;
    if (!ParseSalesDims(dims, &p, &currency, &sum)) {
      return absl::InternalError(
          absl::StrCat("malformed sales figure key ", absl::CHexEscape(dims)));
    }
    if (!product.empty() && p != product) continue;
    auto& totals = sales[p][currency];
    (sum ? totals.first : totals.second) += n;
  }
  crm::v1::SalesStats out;
  *out.mutable_scope() = scope;
  out.set_product(product);
  std::map<std::string, std::pair<int64_t, int64_t>> all;
  int64_t count = 0;
  auto add_total = [](google::protobuf::RepeatedPtrField<crm::v1::CurrencyTotal>* list,
                      const std::string& currency, const std::pair<int64_t, int64_t>& t) {
    auto* total = list->Add();
    total->set_currency_code(currency);
    total->set_total_minor(t.first);
    total->set_purchase_count(t.second);
  };
  for (const auto& [p, currencies] : sales) {
    // Refunds are counted when they happen: a currency (and a product) whose sales and refunds
    // in the window cancel out is left out, as one without sales.
    if (std::all_of(currencies.begin(), currencies.end(),
                    [](const auto& c) { return c.second == std::pair<int64_t, int64_t>(0, 0); })) {
      continue;
    }
    auto* ps = out.add_products();
    ps->set_product(p);
    int64_t n = 0;
    for (const auto& [currency, t] : currencies) {
      if (t == std::pair<int64_t, int64_t>(0, 0)) continue;
      add_total(ps->mutable_amounts(), currency, t);
      all[currency].first += t.first;
      all[currency].second += t.second;
      n += t.second;
    }
    ps->set_purchase_count(n);
    count += n;
  }
  out.set_purchase_count(count);
  for (const auto& [currency, t] : all) {
    if (t != std::pair<int64_t, int64_t>(0, 0)) add_total(out.mutable_amounts(), currency, t);
  }
  if (!zone.has_value()) return out;

  // The series: the quarter hours of the window, summed into the zone's days, weeks, months.
  using Totals = std::map<std::string, std::pair<int64_t, int64_t>>;  // currency -> (sum, n)
  std::map<int64_t, Totals> per_bucket;
  absl::Status parsed;
  CRM_RETURN_IF_ERROR(
      ScanTimedFigure(*store_, SalesPrefix(key_scope, id), window,
                      [&](int64_t bucket, absl::string_view dims, int64_t n) {
                        std::string p;
                        std::string currency;
                        bool sum = false;
                        if (!ParseSalesDims(dims, &p, &currency, &sum)) {
                          parsed = absl::InternalError(
                              absl::StrCat("malformed sales figure key ", absl::CHexEscape(dims)));
                          return;
                        }
                        if (!product.empty() && p != product) return;
                        auto& t = per_bucket[bucket][currency];
                        (sum ? t.first : t.second) += n;
                      }));
  CRM_RETURN_IF_ERROR(parsed);
  for (const auto& [period, list] :
       {std::pair(Period::kDay, out.mutable_days()), std::pair(Period::kWeek, out.mutable_weeks()),
        std::pair(Period::kMonth, out.mutable_months())}) {
    std::map<LocalBucket, Totals> periods;
    for (const auto& [bucket, totals] : per_bucket) {
      Totals& into = periods[LocalBucketOf(TimeBucketStart(bucket), *zone, period)];
      for (const auto& [currency, t] : totals) {
        into[currency].first += t.first;
        into[currency].second += t.second;
      }
    }
    for (const auto& [local, totals] : periods) {
      int64_t n = 0;
      bool any = false;
      for (const auto& [currency, t] : totals) {
        n += t.second;
        any |= t != std::pair<int64_t, int64_t>(0, 0);
      }
      if (!any) continue;  // no sale and no refund (or they cancel out)
      auto* b = list->Add();
      b->set_bucket(local.label);
      *b->mutable_start_time() = ToTimestamp(local.start);
      b->set_purchase_count(n);
      for (const auto& [currency, t] : totals) {
        if (t != std::pair<int64_t, int64_t>(0, 0)) add_total(b->mutable_amounts(), currency, t);
      }
    }
  }
  return out;
}

absl::StatusOr<crm::v1::Retention> AnalyticsViews::GetRetention(const Window& window) const {
  CRM_ASSIGN_OR_RETURN(auto figure, ReadFigure(*store_, kRetentionFigure, window));
  CRM_ASSIGN_OR_RETURN(int64_t g1, GapsInside(*store_, 1, window));
  CRM_ASSIGN_OR_RETURN(int64_t g2, GapsInside(*store_, 2, window));
  crm::v1::Retention out;
  // A customer with k >= 1 purchases in the window has k of them, k - 1 consecutive pairs
  // inside it and max(k - 2, 0) pairs with one purchase between: purchases - g1 counts each
  // such customer once, g1 - g2 each with k >= 2 once.
  out.set_purchasing_customers(Get(figure, kPurchasesDims) - g1);
  out.set_repeat_customers(g1 - g2);
  out.set_repeat_purchase_rate(out.purchasing_customers() == 0
                                   ? 0.0
                                   : static_cast<double>(out.repeat_customers()) /
                                         static_cast<double>(out.purchasing_customers()));
  if (window.start.has_value()) {
    // Non-churned customers at the start: registered (not churned) before it, minus the moves
    // into CHURNED before it, plus those out of it; each "before" is all time minus the counts
    // from the start on.
    CRM_ASSIGN_OR_RETURN(auto all, ReadFigure(*store_, kRetentionFigure, Window{}));
    CRM_ASSIGN_OR_RETURN(auto since,
                         ReadFigure(*store_, kRetentionFigure, Window{window.start, std::nullopt}));
    auto before = [&](absl::string_view dims) { return Get(all, dims) - Get(since, dims); };
    out.set_active_at_start(before(kRegisteredDims) - before(kChurnedDims) + before(kWonBackDims) -
                            before(kMergedAwayDims));
  }
  out.set_registered_in_window(Get(figure, kRegisteredDims));
  out.set_churned(Get(figure, kChurnedDims));
  out.set_merged_away(Get(figure, kMergedAwayDims));
  const int64_t base = out.active_at_start() + out.registered_in_window() - out.merged_away();
  out.set_churn_rate(base == 0 ? 0.0
                               : static_cast<double>(out.churned()) / static_cast<double>(base));
  return out;
}

absl::StatusOr<crm::v1::ConversionTime> AnalyticsViews::GetConversionTime(
    crm::v1::LifecycleStage from, crm::v1::LifecycleStage to, const Window& window) const {
  crm::v1::ConversionTime out;
  out.set_from_stage(from);
  out.set_to_stage(to);
  CRM_ASSIGN_OR_RETURN(*out.mutable_durations(),
                       ReadDurationFigure(*store_, ConversionFigurePrefix(from, to), window));
  return out;
}

}  // namespace crm::readmodel::analytics
