// Key layout of the analytics figures (projections/analytics writes, AnalyticsViews reads). Every
// key starts with "an/". Counters are decimal text (readmodel/analytics/figures.h) and absent
// when zero. Enum values appear as their numbers. Free-form ids (aggregate names, staff ids,
// team and department names) end with '\0' where something follows them, so no id can be
// mistaken for the prefix of another.
//
//   an/v/<aggregate>                        -> last applied aggregate_version (interactions),
//                                              the fold's idempotency guard
//   an/cs/<aggregate>                       -> crm.v1.Complaint: the fold's per-complaint state
//                                              (status, category, severity, channel, create_time =
//                                              filing time, the two SlaDeadlines with met_time and
//                                              breached, resolve_time = FIRST resolution time)
//   an/cf/<customer id>                     -> CustomerFacts (customer_facts.h): the fold's
//                                              per-customer state (version, stage, stage entries,
//                                              owner and their place, purchase times)
//   an/nf/total                             -> complaints filed
//   an/n/{cat,sev,ch}/<value>               -> complaints filed per category, severity, channel
//   an/n/st/<status>                        -> complaints per current status
//   an/sla/<kind>/<severity>/<outcome>      -> deadlines per outcome (met, late, breached, pending)
//   an/rt/<metric>/<sub>/n                  -> durations recorded (metric: resp, resol with
//                                              <sub> a severity or all; conv with <sub>
//                                              <from stage>/<to stage>)
//   an/rt/<metric>/<sub>/sum                -> their sum in milliseconds
//   an/rt/<metric>/<sub>/b/<bucket, 4 digits> -> durations per duration bucket
//   an/rd/<metric>/<sub>/<ms, 20 digits>/<id> -> the time the duration was recorded
//                                              (OrderedTime; sorted, for exact percentiles)
//   an/csat/<scope>/<id>\0<score>           -> follow-up visits with CSAT score 1..5
//   an/csat/<scope>/<id>\0sat               -> follow-up visits where the customer was satisfied
//   an/kpi/<scope>/<id>\0<kpi>              -> assigned, resolved, breached, interactions
//   an/in/total                             -> interactions logged
//   an/in/cd/<channel>/<direction>          -> interactions per channel and direction
//   an/rc/<root cause>                      -> resolutions per root cause
//   an/sale/<scope>/<id>\0<product>\0<currency>\0{n,sum} -> purchases and their amount (minor
//                                              units) of the customers the scope owned
//   an/ret/{pur,reg,churn,back,g1,g2}       -> purchases; registrations in a stage other than
//                                              CHURNED; moves into CHURNED; moves out of it (won
//                                              back); g1, g2 all-time totals of:
//   an/g1/<bucket a>/<bucket b>             -> a customer's consecutive purchases at a then b
//   an/g2/<bucket a>/<bucket b>             -> a customer's purchases at a and b with exactly one
//                                              purchase between them
//
// Every counter under an/n/, an/sla/, an/rt/, an/csat/, an/kpi/, an/in/, an/rc/, an/sale/ and
// an/ret/ is also kept per quarter-hour time bucket (figures.h, TimedKey): the key with "w/"
// after "an/" and the bucket (11 digits) between the figure and its dimensions, e.g.
// an/w/n/<bucket>/total, an/w/kpi/staff/<id>\0<bucket>/assigned. The time of each figure (which
// event's time puts a count in a bucket) is in docs/analytics.md.
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

std::string CustomerFactsKey(absl::string_view customer_id);
// The complaint counts: one figure, dims "total" or "<dimension>/<value>".
inline constexpr absl::string_view kComplaintFigure = "an/n/";
inline constexpr absl::string_view kComplaintTotalDims = "total";
// Complaints filed, alone in a figure of its own (dims kComplaintTotalDims), so that the filing
// time series (day, week, month buckets) reads one counter per quarter hour.
inline constexpr absl::string_view kFiledFigure = "an/nf/";
enum class Dimension { kCategory, kSeverity, kStatus, kChannel };
std::string DimensionPrefix(Dimension dimension);
std::string DimensionKey(Dimension dimension, absl::string_view value);
std::string DimensionKey(Dimension dimension, int value);
// The dims of a dimension's value under kComplaintFigure ("cat/3").
std::string DimensionDims(Dimension dimension, int value);

// What became of one SLA deadline (definitions in docs/analytics.md).
enum class SlaOutcome { kPending, kMet, kLate, kBreached };
inline constexpr absl::string_view kSlaPrefix = "an/sla/";
std::string SlaKey(int kind, int severity, SlaOutcome outcome);
// The dims of SlaKey under kSlaPrefix ("<kind>/<severity>/<outcome>").
std::string SlaDims(int kind, int severity, SlaOutcome outcome);
// Parses a key made by SlaKey; false if it is not one.
bool ParseSlaKey(absl::string_view key, int* kind, int* severity, SlaOutcome* outcome);

enum class DurationMetric { kFirstResponse, kResolution };
// The prefix of one duration figure: all complaints (severity nullopt) or one severity.
std::string DurationFigurePrefix(DurationMetric metric, std::optional<int> severity);
// The prefix of the conversion-time figure from entering stage `from` to entering `to`.
std::string ConversionFigurePrefix(int from, int to);
inline constexpr absl::string_view kDurationCountDims = "n";
inline constexpr absl::string_view kDurationSumDims = "sum";
inline constexpr absl::string_view kDurationBucketDims = "b/";
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
enum class Kpi { kAssigned, kResolved, kBreached, kInteractions };
std::string CsatPrefix(Scope scope, absl::string_view id);
std::string KpiPrefix(Scope scope, absl::string_view id);
absl::string_view KpiName(Kpi kpi);
std::string CsatScoreKey(Scope scope, absl::string_view id, int score);
std::string CsatSatisfiedKey(Scope scope, absl::string_view id);
inline constexpr absl::string_view kSatisfiedSuffix = "sat";

std::string KpiKey(Scope scope, absl::string_view id, Kpi kpi);

// The interaction counts: one figure, dims "total" or "cd/<channel>/<direction>".
inline constexpr absl::string_view kInteractionFigure = "an/in/";
inline constexpr absl::string_view kInteractionTotalKey = "an/in/total";
inline constexpr absl::string_view kInteractionTotalDims = "total";
inline constexpr absl::string_view kInteractionPrefix = "an/in/cd/";
std::string InteractionKey(int channel, int direction);
std::string InteractionDims(int channel, int direction);

inline constexpr absl::string_view kRootCausePrefix = "an/rc/";
std::string RootCauseKey(int root_cause);

// Sales of the customers a scope owned at the purchase; dims "<product>\0<currency>\0n" (the
// purchases) and "...\0sum" (their amount in minor units).
std::string SalesPrefix(Scope scope, absl::string_view id);
std::string SalesDims(absl::string_view product, absl::string_view currency, bool sum);
// Parses SalesDims; false if malformed.
bool ParseSalesDims(absl::string_view dims, std::string* product, std::string* currency, bool* sum);

// Retention: one figure, dims below.
inline constexpr absl::string_view kRetentionFigure = "an/ret/";
inline constexpr absl::string_view kPurchasesDims = "pur";
inline constexpr absl::string_view kRegisteredDims = "reg";
inline constexpr absl::string_view kChurnedDims = "churn";
inline constexpr absl::string_view kWonBackDims = "back";
// Customers merged into another while not CHURNED (CustomerMergedInto).
inline constexpr absl::string_view kMergedAwayDims = "merged";
// Pairs of one customer's purchase times: 1 = consecutive, 2 = one purchase between.
std::string GapPrefix(int order);
std::string GapKey(int order, int64_t bucket_a, int64_t bucket_b);
// The all-time count of the pairs of `order` (under kRetentionFigure).
std::string GapTotalDims(int order);

}  // namespace crm::readmodel::analytics
