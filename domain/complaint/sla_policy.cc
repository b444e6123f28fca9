#include "domain/complaint/sla_policy.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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

}  // namespace

const SlaTargets& SlaPolicy::For(crm::v1::ComplaintSeverity severity) const {
  switch (severity) {
    case crm::v1::SEVERE:
      return severe;
    case crm::v1::MINOR:
      return minor;
    default:
      return general;
  }
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
    if (kv.size() != 2) return Bad(entry, "expected <severity>=<response>/<resolution>");
    const std::string severity = absl::AsciiStrToLower(absl::StripAsciiWhitespace(kv[0]));
    SlaTargets* targets = nullptr;
    if (severity == "severe") {
      targets = &policy.severe;
    } else if (severity == "general") {
      targets = &policy.general;
    } else if (severity == "minor") {
      targets = &policy.minor;
    } else {
      return Bad(entry, absl::StrCat("unknown severity \"", severity,
                                     "\"; expected severe, general or minor"));
    }
    if (!seen.insert(severity).second) return Bad(entry, "severity given twice");
    std::vector<absl::string_view> durations = absl::StrSplit(kv[1], '/');
    if (durations.size() != 2) return Bad(entry, "expected <response>/<resolution>");
    absl::StatusOr<absl::Duration> response = ParsePositive(entry, durations[0], "response");
    if (!response.ok()) return response.status();
    absl::StatusOr<absl::Duration> resolution = ParsePositive(entry, durations[1], "resolution");
    if (!resolution.ok()) return resolution.status();
    *targets = {*response, *resolution};
  }
  return policy;
}

std::string FormatSlaPolicy(const SlaPolicy& policy) {
  auto one = [](absl::string_view name, const SlaTargets& t) {
    return absl::StrCat(name, "=", absl::FormatDuration(t.response), "/",
                        absl::FormatDuration(t.resolution));
  };
  return absl::StrCat(one("severe", policy.severe), ",", one("general", policy.general), ",",
                      one("minor", policy.minor));
}

}  // namespace crm::domain::complaint
