// The SLA policy of complaints: how long after filing the first response (acknowledgement) and
// the resolution are due, per severity and per the customer's value tier (DOMAIN section 4:
// differentiated service per tier). The deadlines computed from it are recorded in
// ComplaintFiled (and ComplaintReopened for a new resolution deadline), together with the tier
// they were computed for, so a later change of policy (or of the customer's tier) never moves a
// recorded deadline and folds stay deterministic.
//
// Defaults (proto/crm/v1/README.md, "Complaints"): severe 4 h / 24 h, general 24 h / 72 h,
// minor 48 h / 7 days; VIP (HIGH_VALUE) customers half of each. Thread-safe: plain values and
// pure functions.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/complaint.pb.h"
#include "crm/v1/customer.pb.h"

namespace crm::domain::complaint {

// The two durations of one severity, counted from filing (response) and from filing or
// reopening (resolution).
struct SlaTargets {
  absl::Duration response;
  absl::Duration resolution;
};

struct SlaPolicy {
  // Per severity, for every tier without an entry of its own.
  SlaTargets severe{absl::Hours(4), absl::Hours(24)};
  SlaTargets general{absl::Hours(24), absl::Hours(72)};
  SlaTargets minor{absl::Hours(48), absl::Hours(7 * 24)};
  // Entries of one tier and one severity ("vip.severe=1h/8h"), keyed by (tier, severity).
  std::map<std::pair<crm::v1::ValueTier, crm::v1::ComplaintSeverity>, SlaTargets> tiered;

  // The targets of `severity` for a customer of `tier`: the tier's own entry if there is one;
  // else, for HIGH_VALUE (VIP), half of the severity's durations; else the severity's. GENERAL
  // stands for UNSPECIFIED or unknown severities (never used by the commands, which require a
  // known severity); UNSPECIFIED or unknown tiers are read as ORDINARY.
  SlaTargets For(crm::v1::ComplaintSeverity severity,
                 crm::v1::ValueTier tier = crm::v1::ORDINARY) const;
};

// The default policy in the flag syntax below.
inline constexpr char kDefaultSlaPolicy[] =
    "severe=4h/24h,general=24h/72h,minor=48h/168h,vip.severe=2h/12h,vip.general=12h/36h,"
    "vip.minor=24h/84h";

// Parses a policy such as "severe=4h/24h,general=24h/72h,minor=48h/168h,vip.severe=1h/8h" (the
// --sla-policy flag): comma-separated `[<tier>.]<severity>=<response>/<resolution>` entries,
// severity one of severe, general, minor, tier one of vip (HIGH_VALUE; "high_value" also
// reads), ordinary, potential (any case), durations in absl::ParseDuration syntax ("90m", "4h",
// "1h30m"; no days: write 168h for 7 days). An entry without a tier sets the severity for every
// tier without an entry of its own (vip without one: half of it, see SlaPolicy::For). Severities
// not listed keep their defaults; empty text is the default policy. Each duration must be
// positive and finite (they are independent: a response deadline later than the resolution
// deadline is allowed). INVALID_ARGUMENT naming the offending entry otherwise (also for an
// entry given twice).
absl::StatusOr<SlaPolicy> ParseSlaPolicy(absl::string_view text);

// The policy in the syntax ParseSlaPolicy reads: the three severities, the three vip entries
// (as For gives them), then the ordinary and potential entries that were given, e.g.
// "severe=4h/24h,general=24h/72h,minor=48h/168h,vip.severe=2h/12h,vip.general=12h/36h,
// vip.minor=24h/84h" (one line).
std::string FormatSlaPolicy(const SlaPolicy& policy);

}  // namespace crm::domain::complaint
