// Key layout of the analytics figures (projections/analytics writes, AnalyticsViews reads). Every
// key starts with "an/". Counters are decimal text (readmodel/analytics/figures.h) and absent
// when zero. Enum values appear as their numbers. Free-form ids (aggregate names, staff ids,
// team and department names) end with '\0' where something follows them, so no id can be
// mistaken for the prefix of another.
//
//   an/v/<aggregate>                        -> last applied aggregate_version (complaints and
//                                              interactions), the fold's idempotency guard
//   an/cs/<aggregate>                       -> crm.v1.Complaint: the fold's per-complaint state
//                                              (status, category, severity, channel, create_time =
//                                              filing time, the two SlaDeadlines with met_time and
//                                              breached, resolve_time = FIRST resolution time)
//   an/n/total                              -> complaints filed
//   an/n/{cat,sev,ch}/<value>               -> complaints filed per category, severity, channel
//   an/n/st/<status>                        -> complaints per current status
//   an/n/day/<YYYY-MM-DD>, an/n/mon/<YYYY-MM> -> complaints filed per UTC day, month
//   an/sla/<kind>/<severity>/<outcome>      -> deadlines per outcome (met, late, breached, pending)
//   an/rt/<metric>/<severity|all>/n         -> durations recorded (metric: resp, resol)
//   an/rt/<metric>/<severity|all>/sum       -> their sum in milliseconds
//   an/rt/<metric>/<severity|all>/d/<ms, 20 digits>/<aggregate> -> "" (sorted, for percentiles)
//   an/csat/<scope>/<id>\0<score>           -> follow-up visits with CSAT score 1..5
//   an/csat/<scope>/<id>\0sat               -> follow-up visits where the customer was satisfied
//   an/kpi/<scope>/<id>\0<kpi>              -> assigned, resolved, breached, interactions
//   an/in/total                             -> interactions logged
//   an/in/cd/<channel>/<direction>          -> interactions per channel and direction
//   an/rc/<root cause>                      -> resolutions per root cause
//
// <scope> is all (id empty), staff (bare staff id), team ("teams/{id}") or dept
// ("departments/{id}").
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace crm::readmodel::analytics {

inline constexpr absl::string_view kAnalyticsPrefix = "an/";
// The fold that writes these figures (projections/analytics), for fold::FoldRunner::Serving.
inline constexpr absl::string_view kFoldName = "analytics";

std::string VersionKey(absl::string_view aggregate);
std::string ComplaintStateKey(absl::string_view aggregate);

inline constexpr absl::string_view kComplaintTotalKey = "an/n/total";
enum class Dimension { kCategory, kSeverity, kStatus, kChannel, kDay, kMonth };
std::string DimensionPrefix(Dimension dimension);
std::string DimensionKey(Dimension dimension, absl::string_view value);
std::string DimensionKey(Dimension dimension, int value);

// What became of one SLA deadline (definitions in docs/analytics.md).
enum class SlaOutcome { kPending, kMet, kLate, kBreached };
inline constexpr absl::string_view kSlaPrefix = "an/sla/";
std::string SlaKey(int kind, int severity, SlaOutcome outcome);
// Parses a key made by SlaKey; false if it is not one.
bool ParseSlaKey(absl::string_view key, int* kind, int* severity, SlaOutcome* outcome);

enum class DurationMetric { kFirstResponse, kResolution };
// The prefix of one duration figure: all complaints (severity nullopt) or one severity.
std::string DurationFigurePrefix(DurationMetric metric, std::optional<int> severity);
std::string DurationCountKey(absl::string_view figure_prefix);
std::string DurationSumKey(absl::string_view figure_prefix);
std::string DurationListPrefix(absl::string_view figure_prefix);
std::string DurationEntryKey(absl::string_view figure_prefix, int64_t millis,
                             absl::string_view aggregate);
// The milliseconds in a key under DurationListPrefix; -1 if malformed.
int64_t DurationOfEntryKey(absl::string_view key, absl::string_view list_prefix);
// Durations are also counted in buckets, so that a percentile reads the bucket counters (fewer
// than a thousand) and the entries of one bucket, not every duration below it: exact buckets
// for 0-15 ms, then 16 buckets per power of two (each at most 1/16 of its start wide).
int DurationBucketOf(int64_t millis);
// The smallest duration in bucket `bucket`.
int64_t DurationBucketStart(int bucket);
std::string DurationBucketPrefix(absl::string_view figure_prefix);
std::string DurationBucketKey(absl::string_view figure_prefix, int bucket);

enum class Scope { kAll, kStaff, kTeam, kDepartment };
std::string CsatPrefix(Scope scope, absl::string_view id);
std::string CsatScoreKey(Scope scope, absl::string_view id, int score);
std::string CsatSatisfiedKey(Scope scope, absl::string_view id);
inline constexpr absl::string_view kSatisfiedSuffix = "sat";

enum class Kpi { kAssigned, kResolved, kBreached, kInteractions };
std::string KpiKey(Scope scope, absl::string_view id, Kpi kpi);

inline constexpr absl::string_view kInteractionTotalKey = "an/in/total";
inline constexpr absl::string_view kInteractionPrefix = "an/in/cd/";
std::string InteractionKey(int channel, int direction);

inline constexpr absl::string_view kRootCausePrefix = "an/rc/";
std::string RootCauseKey(int root_cause);

}  // namespace crm::readmodel::analytics
