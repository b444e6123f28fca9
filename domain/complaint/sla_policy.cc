#include "domain/complaint/sla_policy.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/errors.h"

namespace crm::domain::complaint {
namespace {

absl::Status Bad(absl::string_view entry, absl::string_view why) {
  return crm::status::Error(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("bad SLA policy entry \"", entry, "\": ", why,
                                         " (expected e.g. \"", kDefaultSlaPolicy, "\")"),
                            "INVALID_SLA_POLICY", {{"entry", std::string(entry)}});
}

absl::StatusOr<absl::Duration> ParsePositive(absl::string_view entry, absl::string_view text,
                                             absl::string_view what) {
  absl::Duration d;
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  if (!absl::ParseDuration(trimmed, &d)) {
    return Bad(entry, absl::StrCat(what, " \"", trimmed,
                                   "\" is not a duration (units ns, us, ms, s, m, h; no days)"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Bad(entry, absl::StrCat(what, " must be positive and finite"));
  }
  return d;
}

constexpr crm::v1::ComplaintSeverity kSeverities[] = {crm::v1::SEVERE, crm::v1::GENERAL,
                                                      crm::v1::MINOR};

absl::string_view SeverityWord(crm::v1::ComplaintSeverity severity) {
  switch (severity) {
    case crm::v1::SEVERE:
      return "severe";
    case crm::v1::MINOR:
      return "minor";
    default:
      return "general";
  }
}

absl::string_view TierWord(crm::v1::ValueTier tier) {
  switch (tier) {
    case crm::v1::HIGH_VALUE:
      return "vip";
    case crm::v1::POTENTIAL_VALUE:
      return "potential";
    default:
      return "ordinary";
  }
}

std::string Entry(absl::string_view name, const SlaTargets& t) {
  return absl::StrCat(name, "=", absl::FormatDuration(t.response), "/",
                      absl::FormatDuration(t.resolution));
}

}  // namespace

SlaTargets SlaPolicy::For(crm::v1::ComplaintSeverity severity, crm::v1::ValueTier tier) const {
  if (tier != crm::v1::HIGH_VALUE && tier != crm::v1::POTENTIAL_VALUE) tier = crm::v1::ORDINARY;
  if (severity != crm::v1::SEVERE && severity != crm::v1::MINOR) severity = crm::v1::GENERAL;
  auto it = tiered.find({tier, severity});
  if (it != tiered.end()) return it->second;
  const SlaTargets& base = severity == crm::v1::SEVERE  ? severe
                           : severity == crm::v1::MINOR ? minor
                                                        : general;
  if (tier == crm::v1::HIGH_VALUE) return {base.response / 2, base.resolution / 2};
  return base;
}

absl::StatusOr<SlaPolicy> ParseSlaPolicy(absl::string_view text) {
  SlaPolicy policy;
  std::set<std::string> seen;
  for (absl::string_view raw : absl::StrSplit(text, ',')) {
    const absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty()) {
      if (absl::StripAsciiWhitespace(text).empty()) break;
      return Bad(entry, "empty entry");
    }
    std::vector<absl::string_view> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return Bad(entry, "expected [<tier>.]<severity>=<response>/<resolution>");
    const std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(kv[0]));
    std::string severity = key;
    std::optional<crm::v1::ValueTier> tier;
    if (std::vector<std::string> parts = absl::StrSplit(key, absl::MaxSplits('.', 1));
        parts.size() == 2) {
      const std::string word(absl::StripAsciiWhitespace(parts[0]));
      severity = std::string(absl::StripAsciiWhitespace(parts[1]));
      if (word == "vip" || word == "high_value") {
        tier = crm::v1::HIGH_VALUE;
      } else if (word == "ordinary") {
        tier = crm::v1::ORDINARY;
      } else if (word == "potential") {
        tier = crm::v1::POTENTIAL_VALUE;
      } else {
        return Bad(entry, absl::StrCat("unknown tier \"", word,
                                       "\"; expected vip, ordinary or potential"));
      }
    }
    crm::v1::ComplaintSeverity parsed;
    if (severity == "severe") {
      parsed = crm::v1::SEVERE;
    } else if (severity == "general") {
      parsed = crm::v1::GENERAL;
    } else if (severity == "minor") {
      parsed = crm::v1::MINOR;
    } else {
      return Bad(entry, absl::StrCat("unknown severity \"", severity,
                                     "\"; expected severe, general or minor"));
    }
    const std::string canonical =
        tier.has_value() ? absl::StrCat(TierWord(*tier), ".", severity) : severity;
    if (!seen.insert(canonical).second) {
      return Bad(entry,
                 tier.has_value() ? "tier and severity given twice" : "severity given twice");
    }
    std::vector<absl::string_view> durations = absl::StrSplit(kv[1], '/');
    if (durations.size() != 2) return Bad(entry, "expected <response>/<resolution>");
    absl::StatusOr<absl::Duration> response = ParsePositive(entry, durations[0], "response");
    if (!response.ok()) return response.status();
    absl::StatusOr<absl::Duration> resolution = ParsePositive(entry, durations[1], "resolution");
    if (!resolution.ok()) return resolution.status();
    const SlaTargets targets{*response, *resolution};
    if (tier.has_value()) {
      policy.tiered[{*tier, parsed}] = targets;
    } else if (parsed == crm::v1::SEVERE) {
      policy.severe = targets;
    } else if (parsed == crm::v1::GENERAL) {
      policy.general = targets;
    } else {
      policy.minor = targets;
    }
  }
  return policy;
}

std::string FormatSlaPolicy(const SlaPolicy& policy) {
  std::vector<std::string> entries = {Entry("severe", policy.severe),
                                      Entry("general", policy.general),
                                      Entry("minor", policy.minor)};
  for (crm::v1::ValueTier tier :
       {crm::v1::HIGH_VALUE, crm::v1::ORDINARY, crm::v1::POTENTIAL_VALUE}) {
    for (crm::v1::ComplaintSeverity severity : kSeverities) {
      if (tier != crm::v1::HIGH_VALUE && !policy.tiered.count({tier, severity})) continue;
      entries.push_back(Entry(absl::StrCat(TierWord(tier), ".", SeverityWord(severity)),
                              policy.For(severity, tier)));
    }
  }
  return absl::StrJoin(entries, ",");
}

}  // namespace crm::domain::complaint
