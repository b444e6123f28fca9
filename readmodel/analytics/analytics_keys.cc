#include "readmodel/analytics/analytics_keys.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "readmodel/analytics/figures.h"

namespace crm::readmodel::analytics {
namespace {

absl::string_view DimensionName(Dimension dimension) {
  switch (dimension) {
    case Dimension::kCategory:
      return "cat";
    case Dimension::kSeverity:
      return "sev";
    case Dimension::kStatus:
      return "st";
    case Dimension::kChannel:
      return "ch";
  }
  return "?";
}

absl::string_view OutcomeName(SlaOutcome outcome) {
  switch (outcome) {
    case SlaOutcome::kPending:
      return "pending";
    case SlaOutcome::kMet:
      return "met";
    case SlaOutcome::kLate:
      return "late";
    case SlaOutcome::kBreached:
      return "breached";
  }
  return "?";
}

absl::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kAll:
      return "all";
    case Scope::kStaff:
      return "staff";
    case Scope::kTeam:
      return "team";
    case Scope::kDepartment:
      return "dept";
  }
  return "?";
}

}  // namespace

absl::string_view KpiName(Kpi kpi) {
  switch (kpi) {
    case Kpi::kAssigned:
      return "assigned";
    case Kpi::kResolved:
      return "resolved";
    case Kpi::kBreached:
      return "breached";
    case Kpi::kInteractions:
      return "interactions";
  }
  return "?";
}

std::string VersionKey(absl::string_view aggregate) { return absl::StrCat("an/v/", aggregate); }

std::string ComplaintStateKey(absl::string_view aggregate) {
  return absl::StrCat("an/cs/", aggregate);
}

std::string CustomerFactsKey(absl::string_view customer_id) {
  return absl::StrCat("an/cf/", customer_id);
}

std::string DimensionDims(Dimension dimension, int value) {
  return absl::StrCat(DimensionName(dimension), "/", value);
}

std::string DimensionPrefix(Dimension dimension) {
  return absl::StrCat("an/n/", DimensionName(dimension), "/");
}

std::string DimensionKey(Dimension dimension, absl::string_view value) {
  return absl::StrCat(DimensionPrefix(dimension), value);
}

std::string DimensionKey(Dimension dimension, int value) {
  return absl::StrCat(DimensionPrefix(dimension), value);
}

std::string SlaKey(int kind, int severity, SlaOutcome outcome) {
  return absl::StrCat(kSlaPrefix, SlaDims(kind, severity, outcome));
}

std::string SlaDims(int kind, int severity, SlaOutcome outcome) {
  return absl::StrCat(kind, "/", severity, "/", OutcomeName(outcome));
}

bool ParseSlaKey(absl::string_view key, int* kind, int* severity, SlaOutcome* outcome) {
  if (!absl::ConsumePrefix(&key, kSlaPrefix)) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], kind) ||
      !absl::SimpleAtoi(parts[1], severity)) {
    return false;
  }
  for (SlaOutcome o :
       {SlaOutcome::kPending, SlaOutcome::kMet, SlaOutcome::kLate, SlaOutcome::kBreached}) {
    if (parts[2] == OutcomeName(o)) {
      *outcome = o;
      return true;
    }
  }
  return false;
}

std::string DurationFigurePrefix(DurationMetric metric, std::optional<int> severity) {
  return absl::StrCat("an/rt/", metric == DurationMetric::kFirstResponse ? "resp" : "resol", "/",
                      severity.has_value() ? absl::StrCat(*severity) : "all", "/");
}

std::string ConversionFigurePrefix(int from, int to) {
  return absl::StrCat("an/rt/conv/", from, "/", to, "/");
}

std::string DurationCountKey(absl::string_view figure_prefix) {
  return absl::StrCat(figure_prefix, kDurationCountDims);
}

std::string DurationSumKey(absl::string_view figure_prefix) {
  return absl::StrCat(figure_prefix, kDurationSumDims);
}

std::string DurationListPrefix(absl::string_view figure_prefix) {
  // The entries are not counters: they live beside the figure ("an/rd/" for "an/rt/"), so that
  // the figure's prefix holds counters only.
  absl::string_view rest = figure_prefix;
  absl::ConsumePrefix(&rest, "an/rt/");
  return absl::StrCat("an/rd/", rest);
}

std::string DurationEntryKey(absl::string_view figure_prefix, int64_t millis,
                             absl::string_view aggregate) {
  return absl::StrCat(DurationListPrefix(figure_prefix), OrderedNumber(millis), "/", aggregate);
}

int64_t DurationOfEntryKey(absl::string_view key, absl::string_view list_prefix) {
  int64_t millis = 0;
  if (!absl::ConsumePrefix(&key, list_prefix) || key.size() < 20 ||
      !absl::SimpleAtoi(key.substr(0, 20), &millis)) {
    return -1;
  }
  return millis;
}

int DurationBucketOf(int64_t millis) {
  if (millis < 16) return millis < 0 ? 0 : static_cast<int>(millis);
  const int exponent = 63 - __builtin_clzll(static_cast<uint64_t>(millis));  // >= 4
  const int sub = static_cast<int>((millis >> (exponent - 4)) & 15);
  return 16 + (exponent - 4) * 16 + sub;
}

int64_t DurationBucketStart(int bucket) {
  if (bucket < 16) return bucket;
  const int exponent = (bucket - 16) / 16 + 4;
  return static_cast<int64_t>(16 + (bucket - 16) % 16) << (exponent - 4);
}

std::string DurationBucketPrefix(absl::string_view figure_prefix) {
  return absl::StrCat(figure_prefix, kDurationBucketDims);
}

std::string DurationBucketKey(absl::string_view figure_prefix, int bucket) {
  return absl::StrCat(DurationBucketPrefix(figure_prefix), absl::Dec(bucket, absl::kZeroPad4));
}

std::string CsatPrefix(Scope scope, absl::string_view id) {
  return absl::StrCat("an/csat/", ScopeName(scope), "/", id, absl::string_view("\0", 1));
}

std::string CsatScoreKey(Scope scope, absl::string_view id, int score) {
  return absl::StrCat(CsatPrefix(scope, id), score);
}

std::string CsatSatisfiedKey(Scope scope, absl::string_view id) {
  return absl::StrCat(CsatPrefix(scope, id), kSatisfiedSuffix);
}

std::string KpiPrefix(Scope scope, absl::string_view id) {
  return absl::StrCat("an/kpi/", ScopeName(scope), "/", id, absl::string_view("\0", 1));
}

std::string KpiKey(Scope scope, absl::string_view id, Kpi kpi) {
  return absl::StrCat(KpiPrefix(scope, id), KpiName(kpi));
}

std::string InteractionKey(int channel, int direction) {
  return absl::StrCat(kInteractionFigure, InteractionDims(channel, direction));
}

std::string InteractionDims(int channel, int direction) {
  return absl::StrCat("cd/", channel, "/", direction);
}

std::string RootCauseKey(int root_cause) { return absl::StrCat(kRootCausePrefix, root_cause); }

std::string SalesPrefix(Scope scope, absl::string_view id) {
  return absl::StrCat("an/sale/", ScopeName(scope), "/", id, absl::string_view("\0", 1));
}

std::string SalesDims(absl::string_view product, absl::string_view currency, bool sum) {
  const absl::string_view nul("\0", 1);
  return absl::StrCat(product, nul, currency, nul, sum ? "sum" : "n");
}

bool ParseSalesDims(absl::string_view dims, std::string* product, std::string* currency,
                    bool* sum) {
  std::vector<absl::string_view> parts = absl::StrSplit(dims, absl::string_view("\0", 1));
  if (parts.size() != 3 || (parts[2] != "n" && parts[2] != "sum")) return false;
  *product = std::string(parts[0]);
  *currency = std::string(parts[1]);
  *sum = parts[2] == "sum";
  return true;
}

std::string GapPrefix(int order) { return absl::StrCat("an/g", order, "/"); }

std::string GapKey(int order, int64_t bucket_a, int64_t bucket_b) {
  return absl::StrCat(GapPrefix(order), absl::Dec(bucket_a, absl::kZeroPad11), "/",
                      absl::Dec(bucket_b, absl::kZeroPad11));
}

std::string GapTotalDims(int order) { return absl::StrCat("g", order); }

}  // namespace crm::readmodel::analytics
