#include "readmodel/analytics/analytics_views.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/base/status_macros.h"
#include "readmodel/analytics/figures.h"

namespace crm::readmodel::analytics {
namespace {

absl::Time BucketStart(absl::string_view bucket) {
  std::string day(bucket);
  if (day.size() == 7) absl::StrAppend(&day, "-01");
  absl::Time t = absl::InfinitePast();
  std::string error;
  if (!absl::ParseTime("%Y-%m-%d", day, absl::UTCTimeZone(), &t, &error)) {
    return absl::InfinitePast();
  }
  return t;
}

// Buckets of `dimension` starting in [start, end), oldest first; adds their counts to *sum.
absl::Status ReadBuckets(const kv::KvStore& store, Dimension dimension, const char* format,
                         std::optional<absl::Time> start, std::optional<absl::Time> end,
                         google::protobuf::RepeatedPtrField<crm::v1::TimeBucketCount>* out,
                         int64_t* sum) {
  const std::string prefix = DimensionPrefix(dimension);
  // Scan from the bucket holding `start` up to and including the one holding `end`; the exact
  // bounds are checked per bucket.
  const std::string from =
      start.has_value()
          ? absl::StrCat(prefix, absl::FormatTime(format, *start, absl::UTCTimeZone()))
          : prefix;
  const std::string to =
      end.has_value()
          ? absl::StrCat(prefix, absl::FormatTime(format, *end, absl::UTCTimeZone()), "\x01")
          : PrefixEnd(prefix);
  CRM_ASSIGN_OR_RETURN(auto counters, ScanCounters(store, prefix, from, to));
  for (const auto& [bucket, n] : counters) {
    const absl::Time bucket_start = BucketStart(bucket);
    if (start.has_value() && bucket_start < *start) continue;
    if (end.has_value() && bucket_start >= *end) continue;
    auto* b = out->Add();
    b->set_bucket(bucket);
    *b->mutable_start_time() = ToTimestamp(bucket_start);
    b->set_count(n);
    *sum += n;
  }
  return absl::OkStatus();
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

absl::StatusOr<crm::v1::DurationStats> ReadDurations(const kv::KvStore& store,
                                                     DurationMetric metric,
                                                     std::optional<int> severity) {
  const std::string prefix = DurationFigurePrefix(metric, severity);
  CRM_ASSIGN_OR_RETURN(int64_t count, ReadCounter(store, DurationCountKey(prefix)));
  CRM_ASSIGN_OR_RETURN(int64_t sum, ReadCounter(store, DurationSumKey(prefix)));
  crm::v1::DurationStats out;
  out.set_count(count);
  *out.mutable_total() = ToDurationProto(absl::Milliseconds(sum));
  *out.mutable_mean() =
      ToDurationProto(count == 0 ? absl::ZeroDuration() : absl::Milliseconds(sum) / count);
  *out.mutable_p90() = ToDurationProto(absl::ZeroDuration());
  if (count == 0) return out;
  // The durations are keys in ascending order: the p90 is the rank-th key. The bucket counters
  // say which bucket holds it; then only that bucket's keys are read.
  const int64_t rank = NearestRank(count, 90);
  CRM_ASSIGN_OR_RETURN(auto buckets, ScanCounters(store, DurationBucketPrefix(prefix)));
  int64_t below = 0;  // durations in the buckets before the one holding the rank-th
  int bucket = -1;
  for (const auto& [name, n] : buckets) {  // in bucket order: the names are zero-padded
    if (below + n >= rank) {
      if (!absl::SimpleAtoi(name, &bucket)) {
        return absl::InternalError(absl::StrCat("malformed duration bucket key ", prefix, name));
      }
      break;
    }
    below += n;
  }
  if (bucket < 0) {
    return absl::InternalError(absl::StrCat("duration figure ", prefix, " has ", below,
                                            " durations in buckets for a count of ", count));
  }
  const std::string list = DurationListPrefix(prefix);
  const int64_t wanted = rank - below;  // its place in the bucket, from 1
  int64_t seen = 0;
  int64_t millis = -1;
  CRM_RETURN_IF_ERROR(store.Scan(absl::StrCat(list, OrderedNumber(DurationBucketStart(bucket))), "",
                                 static_cast<size_t>(wanted), [&](absl::string_view key, auto) {
                                   if (!absl::StartsWith(key, list)) return false;
                                   ++seen;
                                   millis = DurationOfEntryKey(key, list);
                                   return true;
                                 }));
  if (seen != wanted || millis < 0 || DurationBucketOf(millis) != bucket) {
    return absl::InternalError(
        absl::StrCat("duration figure ", prefix, " has fewer entries than its bucket counts"));
  }
  *out.mutable_p90() = ToDurationProto(absl::Milliseconds(millis));
  return out;
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
    std::optional<absl::Time> start, std::optional<absl::Time> end) const {
  crm::v1::ComplaintStats out;
  CRM_ASSIGN_OR_RETURN(int64_t total, ReadCounter(*store_, kComplaintTotalKey));
  out.set_total(total);

  CRM_ASSIGN_OR_RETURN(auto categories,
                       ScanEnumCounters(*store_, DimensionPrefix(Dimension::kCategory)));
  for (const auto& [v, n] : EnumCounts(crm::v1::ComplaintCategory_descriptor(), categories)) {
    auto* c = out.add_categories();
    c->set_category(static_cast<crm::v1::ComplaintCategory>(v));
    c->set_count(n);
  }
  CRM_ASSIGN_OR_RETURN(auto severities,
                       ScanEnumCounters(*store_, DimensionPrefix(Dimension::kSeverity)));
  for (const auto& [v, n] : EnumCounts(crm::v1::ComplaintSeverity_descriptor(), severities)) {
    auto* c = out.add_severities();
    c->set_severity(static_cast<crm::v1::ComplaintSeverity>(v));
    c->set_count(n);
  }
  CRM_ASSIGN_OR_RETURN(auto statuses,
                       ScanEnumCounters(*store_, DimensionPrefix(Dimension::kStatus)));
  for (const auto& [v, n] : EnumCounts(crm::v1::ComplaintStatus_descriptor(), statuses)) {
    auto* c = out.add_statuses();
    c->set_status(static_cast<crm::v1::ComplaintStatus>(v));
    c->set_count(n);
  }
  CRM_ASSIGN_OR_RETURN(auto channels,
                       ScanEnumCounters(*store_, DimensionPrefix(Dimension::kChannel)));
  for (const auto& [v, n] : EnumCounts(crm::v1::Channel_descriptor(), channels)) {
    auto* c = out.add_channels();
    c->set_channel(static_cast<crm::v1::Channel>(v));
    c->set_count(n);
  }
  int64_t window_total = 0;
  CRM_RETURN_IF_ERROR(ReadBuckets(*store_, Dimension::kDay, "%Y-%m-%d", start, end,
                                  out.mutable_days(), &window_total));
  int64_t months_total = 0;
  CRM_RETURN_IF_ERROR(ReadBuckets(*store_, Dimension::kMonth, "%Y-%m", start, end,
                                  out.mutable_months(), &months_total));
  out.set_window_total(window_total);
  return out;
}

absl::StatusOr<crm::v1::SlaCompliance> AnalyticsViews::GetSlaCompliance() const {
  CRM_ASSIGN_OR_RETURN(auto counters, ScanCounters(*store_, kSlaPrefix));
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
    crm::v1::ComplaintSeverity severity) const {
  const std::optional<int> scope = severity == crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED
                                       ? std::nullopt
                                       : std::optional<int>(severity);
  crm::v1::ResponseTimes out;
  out.set_severity(severity);
  CRM_ASSIGN_OR_RETURN(*out.mutable_first_response(),
                       ReadDurations(*store_, DurationMetric::kFirstResponse, scope));
  CRM_ASSIGN_OR_RETURN(*out.mutable_resolution(),
                       ReadDurations(*store_, DurationMetric::kResolution, scope));
  return out;
}

absl::StatusOr<crm::v1::Satisfaction> AnalyticsViews::GetSatisfaction(
    const crm::v1::StaffScope& scope) const {
  const auto [key_scope, id] = KeyScope(scope);
  CRM_ASSIGN_OR_RETURN(auto counters, ScanCounters(*store_, CsatPrefix(key_scope, id)));
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

absl::StatusOr<crm::v1::InteractionStats> AnalyticsViews::GetInteractionStats() const {
  CRM_ASSIGN_OR_RETURN(int64_t total, ReadCounter(*store_, kInteractionTotalKey));
  CRM_ASSIGN_OR_RETURN(auto counters, ScanCounters(*store_, kInteractionPrefix));
  std::map<int, std::map<int, int64_t>> by_channel;  // channel -> direction -> count
  std::map<int, int64_t> channel_totals;
  std::map<int, int64_t> direction_totals;
  for (const auto& [rest, n] : counters) {
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

absl::StatusOr<crm::v1::RootCauseRanking> AnalyticsViews::GetRootCauses() const {
  CRM_ASSIGN_OR_RETURN(auto counts, ScanEnumCounters(*store_, kRootCausePrefix));
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

absl::StatusOr<crm::v1::StaffKpis> AnalyticsViews::GetStaffKpis(
    const crm::v1::StaffScope& scope) const {
  const auto [key_scope, id] = KeyScope(scope);
  crm::v1::StaffKpis out;
  *out.mutable_scope() = scope;
  CRM_ASSIGN_OR_RETURN(int64_t assigned,
                       ReadCounter(*store_, KpiKey(key_scope, id, Kpi::kAssigned)));
  CRM_ASSIGN_OR_RETURN(int64_t resolved,
                       ReadCounter(*store_, KpiKey(key_scope, id, Kpi::kResolved)));
  CRM_ASSIGN_OR_RETURN(int64_t breached,
                       ReadCounter(*store_, KpiKey(key_scope, id, Kpi::kBreached)));
  CRM_ASSIGN_OR_RETURN(int64_t interactions,
                       ReadCounter(*store_, KpiKey(key_scope, id, Kpi::kInteractions)));
  out.set_complaints_assigned(assigned);
  out.set_complaints_resolved(resolved);
  out.set_sla_breaches(breached);
  out.set_interactions_logged(interactions);
  CRM_ASSIGN_OR_RETURN(*out.mutable_satisfaction(), GetSatisfaction(scope));
  return out;
}

}  // namespace crm::readmodel::analytics
