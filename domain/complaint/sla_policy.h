// The SLA policy of complaints: how long after filing the first response (acknowledgement) and
// the resolution are due, per severity. The deadlines computed from it are recorded in
// ComplaintFiled (and ComplaintReopened for a new resolution deadline), so a later change of
// policy never moves a recorded deadline and folds stay deterministic.
//
// Defaults (proto/crm/v1/README.md, "Complaints"): severe 4 h / 24 h, general 24 h / 72 h,
// minor 48 h / 7 days. Thread-safe: plain values and pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/complaint.pb.h"

namespace crm::domain::complaint {

// The two durations of one severity, counted from filing (response) and from filing or
// reopening (resolution).
struct SlaTargets {
  absl::Duration response;
  absl::Duration resolution;
};

struct SlaPolicy {
  SlaTargets severe{absl::Hours(4), absl::Hours(24)};
  SlaTargets general{absl::Hours(24), absl::Hours(72)};
  SlaTargets minor{absl::Hours(48), absl::Hours(7 * 24)};

  // The targets of `severity`; those of GENERAL for UNSPECIFIED or unknown values (never used
  // by the commands, which require a known severity).
  const SlaTargets& For(crm::v1::ComplaintSeverity severity) const;
};

// The default policy in the flag syntax below.
inline constexpr char kDefaultSlaPolicy[] = "severe=4h/24h,general=24h/72h,minor=48h/168h";

// Parses a policy such as "severe=4h/24h,general=24h/72h,minor=48h/168h" (the --sla-policy flag):
// comma-separated `<severity>=<response>/<resolution>` entries, severity one of severe, general,
// minor (any case), durations in absl::ParseDuration syntax ("90m", "4h", "1h30m"; no days: write
// 168h for 7 days). Severities not listed keep their defaults; empty text is the default policy.
// Each duration must be positive and finite (they are independent: a response deadline later
// than the resolution deadline is allowed). INVALID_ARGUMENT naming the offending entry
// otherwise.
absl::StatusOr<SlaPolicy> ParseSlaPolicy(absl::string_view text);

// The policy in the syntax ParseSlaPolicy reads, e.g.
// "severe=4h/24h,general=24h/72h,minor=48h/168h".
std::string FormatSlaPolicy(const SlaPolicy& policy);

}  // namespace crm::domain::complaint
