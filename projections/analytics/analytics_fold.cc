#include "projections/analytics/analytics_fold.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/complaint.pb.h"
#include "domain/common/event_types.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/complaint/event_codec.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/interaction/event_codec.h"
#include "readmodel/analytics/analytics_keys.h"
#include "readmodel/analytics/figures.h"

namespace crm::projections::analytics {
namespace {

using crm::events::v1::EventEnvelope;
using crm::events::v1::StaffRef;
using crm::v1::Complaint;
using crm::v1::ComplaintSeverity;
using crm::v1::ComplaintStatus;
using crm::v1::SlaDeadline;
using domain::complaint::ToApi;
using readmodel::analytics::AddToCounter;
using readmodel::analytics::CountAt;
using readmodel::analytics::Dimension;
using readmodel::analytics::DurationMetric;
using readmodel::analytics::Kpi;
using readmodel::analytics::KpiName;
using readmodel::analytics::Scope;
using readmodel::analytics::SlaOutcome;
using readmodel::analytics::ToTime;

std::string AggregateOf(const EventEnvelope& event) {
  return event.aggregate().empty() ? absl::StrCat("customers/", event.customer_id())
                                   : event.aggregate();
}

// Whether the event is newer than the last one applied for its aggregate; if so, records it as
// applied.
absl::StatusOr<bool> Advance(kv::KvBatch& batch, absl::string_view aggregate, int64_t version) {
  const std::string key = readmodel::analytics::VersionKey(aggregate);
  CRM_ASSIGN_OR_RETURN(int64_t last, readmodel::analytics::ReadCounter(batch, key));
  if (version <= last) return false;
  batch.Put(key, absl::StrCat(version));
  return true;
}

// The scopes an event crediting `ref` counts for: everyone, then the staff member, team and
// department that are set.
std::vector<std::pair<Scope, std::string>> ScopesOf(const StaffRef& ref) {
  std::vector<std::pair<Scope, std::string>> scopes = {{Scope::kAll, ""}};
  if (!ref.staff_id().empty()) scopes.emplace_back(Scope::kStaff, ref.staff_id());
  if (!ref.team().empty()) scopes.emplace_back(Scope::kTeam, ref.team());
  if (!ref.department().empty()) scopes.emplace_back(Scope::kDepartment, ref.department());
  return scopes;
}

absl::Status Credit(kv::KvBatch& batch, const StaffRef& ref, Kpi kpi, absl::Time at) {
  for (const auto& [scope, id] : ScopesOf(ref)) {
    CRM_RETURN_IF_ERROR(
        CountAt(batch, readmodel::analytics::KpiPrefix(scope, id), KpiName(kpi), at, 1));
  }
  return absl::OkStatus();
}

// Only deadlines with a due time have an outcome.
std::optional<SlaOutcome> OutcomeOf(const SlaDeadline& d) {
  if (!d.has_due_time()) return std::nullopt;
  if (d.breached()) return SlaOutcome::kBreached;
  if (d.has_met_time()) {
    return ToTime(d.met_time()) <= ToTime(d.due_time()) ? SlaOutcome::kMet : SlaOutcome::kLate;
  }
  return SlaOutcome::kPending;
}

// A complaint count, in the bucket of the complaint's filing time.
absl::Status CountComplaint(kv::KvBatch& batch, const Complaint& c, absl::string_view dims,
                            int64_t delta) {
  return CountAt(batch, readmodel::analytics::kComplaintFigure, dims, ToTime(c.create_time()),
                 delta);
}

// Moves a status counter from the complaint's old status to its new one.
absl::Status CountStatus(kv::KvBatch& batch, const Complaint& c, ComplaintStatus before,
                         ComplaintStatus after) {
  if (before == after) return absl::OkStatus();
  if (before != crm::v1::COMPLAINT_STATUS_UNSPECIFIED) {
    CRM_RETURN_IF_ERROR(CountComplaint(
        batch, c, readmodel::analytics::DimensionDims(Dimension::kStatus, before), -1));
  }
  if (after != crm::v1::COMPLAINT_STATUS_UNSPECIFIED) {
    CRM_RETURN_IF_ERROR(CountComplaint(
        batch, c, readmodel::analytics::DimensionDims(Dimension::kStatus, after), 1));
  }
  return absl::OkStatus();
}

// Counts what became of one deadline of the complaint. The same deadline (same due time) moves
// between outcome counters; a deadline that replaced another (a reopening's new resolution
// deadline) is counted anew, and the one it replaced keeps its outcome.
absl::Status CountDeadline(kv::KvBatch& batch, ComplaintSeverity severity,
                           const SlaDeadline& before, const SlaDeadline& after) {
  const bool same = before.has_due_time() && after.has_due_time() &&
                    ToTime(before.due_time()) == ToTime(after.due_time());
  const std::optional<SlaOutcome> was = same ? OutcomeOf(before) : std::nullopt;
  const std::optional<SlaOutcome> is = OutcomeOf(after);
  if (was == is) return absl::OkStatus();
  // Counted in the bucket of the deadline's due time (both have the same one when `was` is set).
  using readmodel::analytics::kSlaPrefix;
  using readmodel::analytics::SlaDims;
  if (was.has_value()) {
    CRM_RETURN_IF_ERROR(CountAt(batch, kSlaPrefix, SlaDims(after.kind(), severity, *was),
                                ToTime(before.due_time()), -1));
  }
  if (is.has_value()) {
    CRM_RETURN_IF_ERROR(CountAt(batch, kSlaPrefix, SlaDims(after.kind(), severity, *is),
                                ToTime(after.due_time()), 1));
  }
  return absl::OkStatus();
}

// Records one duration in the figure `prefix`, at time `at` (its time bucket), as entry `id`.
absl::Status RecordDurationIn(kv::KvBatch& batch, absl::string_view prefix, int64_t millis,
                              absl::Time at, absl::string_view id) {
  namespace an = readmodel::analytics;
  CRM_RETURN_IF_ERROR(CountAt(batch, prefix, an::kDurationCountDims, at, 1));
  CRM_RETURN_IF_ERROR(CountAt(batch, prefix, an::kDurationSumDims, at, millis));
  CRM_RETURN_IF_ERROR(
      CountAt(batch, prefix,
              absl::StrCat(an::kDurationBucketDims,
                           absl::Dec(an::DurationBucketOf(millis), absl::kZeroPad4)),
              at, 1));
  batch.Put(an::DurationEntryKey(prefix, millis, id), an::OrderedTime(at));
  return absl::OkStatus();
}

// Records one duration of `metric` (from the filing to `at`) for all complaints and for the
// complaint's severity, in the bucket of `at`.
absl::Status RecordDuration(kv::KvBatch& batch, DurationMetric metric, const Complaint& c,
                            absl::Time at, absl::string_view aggregate) {
  const int64_t millis = readmodel::analytics::MillisBetween(ToTime(c.create_time()), at);
  for (std::optional<int> severity : {std::optional<int>(), std::optional<int>(c.severity())}) {
    CRM_RETURN_IF_ERROR(
        RecordDurationIn(batch, readmodel::analytics::DurationFigurePrefix(metric, severity),
                         millis, at, aggregate));
  }
  return absl::OkStatus();
}

absl::Status CountFiling(kv::KvBatch& batch, const Complaint& c) {
  using readmodel::analytics::DimensionDims;
  CRM_RETURN_IF_ERROR(CountAt(batch, readmodel::analytics::kFiledFigure,
                              readmodel::analytics::kComplaintTotalDims, ToTime(c.create_time()),
                              1));
  CRM_RETURN_IF_ERROR(
      CountComplaint(batch, c, DimensionDims(Dimension::kCategory, c.category()), 1));
  CRM_RETURN_IF_ERROR(
      CountComplaint(batch, c, DimensionDims(Dimension::kSeverity, c.severity()), 1));
  return CountComplaint(batch, c, DimensionDims(Dimension::kChannel, c.channel()), 1);
}

// The complaint's state is the domain's (domain::complaint::Apply, the one reading of a
// complaint event, as the command side and the complaint view apply it); the figures are what
// changed between the state before and after the event, plus the credits the event stamps.
absl::Status ApplyComplaint(kv::KvBatch& batch, const EventEnvelope& event) {
  using Payload = EventEnvelope::PayloadCase;
  const std::string aggregate = AggregateOf(event);
  const std::string state_key = readmodel::analytics::ComplaintStateKey(aggregate);
  Complaint before;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(state_key));
  if (stored.has_value() && !before.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("analytics state of ", aggregate, " is corrupt"));
  }
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();  // seen already
  Complaint after = before;
  if (absl::Status applied = domain::complaint::Apply(after, event); !applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", aggregate,
                                            " cannot be applied: ", applied.message()));
  }

  if (before.version() == 0) CRM_RETURN_IF_ERROR(CountFiling(batch, after));
  CRM_RETURN_IF_ERROR(CountStatus(batch, after, before.status(), after.status()));
  CRM_RETURN_IF_ERROR(CountDeadline(batch, after.severity(), before.response_deadline(),
                                    after.response_deadline()));
  CRM_RETURN_IF_ERROR(CountDeadline(batch, after.severity(), before.resolution_deadline(),
                                    after.resolution_deadline()));
  if (!before.response_deadline().has_met_time() && after.response_deadline().has_met_time()) {
    CRM_RETURN_IF_ERROR(RecordDuration(batch, DurationMetric::kFirstResponse, after,
                                       ToTime(after.response_deadline().met_time()), aggregate));
  }
  if (!before.has_resolve_time() && after.has_resolve_time()) {  // the first resolution
    CRM_RETURN_IF_ERROR(RecordDuration(batch, DurationMetric::kResolution, after,
                                       ToTime(after.resolve_time()), aggregate));
  }

  // Credits: who the event names, as it was then (never org state), in the bucket of the
  // event's time (for a breach that is the due time).
  const absl::Time at = ToTime(event.occurred_at());
  switch (event.payload_case()) {
    case Payload::kComplaintAssigned:
      CRM_RETURN_IF_ERROR(Credit(batch, event.complaint_assigned().assignee(), Kpi::kAssigned, at));
      break;
    case Payload::kComplaintResolved: {
      const auto& resolved = event.complaint_resolved();
      CRM_RETURN_IF_ERROR(CountAt(batch, readmodel::analytics::kRootCausePrefix,
                                  absl::StrCat(ToApi(resolved.root_cause())), at, 1));
      CRM_RETURN_IF_ERROR(Credit(batch, resolved.resolver(), Kpi::kResolved, at));
      break;
    }
    case Payload::kComplaintFollowUpVisitRecorded: {
      const auto& recorded = event.complaint_follow_up_visit_recorded();
      const int csat = recorded.visit().csat();
      for (const auto& [scope, id] : ScopesOf(recorded.resolver())) {
        const std::string figure = readmodel::analytics::CsatPrefix(scope, id);
        if (csat >= 1 && csat <= 5) {
          CRM_RETURN_IF_ERROR(CountAt(batch, figure, absl::StrCat(csat), at, 1));
        }
        if (recorded.visit().satisfied()) {
          CRM_RETURN_IF_ERROR(
              CountAt(batch, figure, readmodel::analytics::kSatisfiedSuffix, at, 1));
        }
      }
      break;
    }
    case Payload::kComplaintSlaBreached:
      CRM_RETURN_IF_ERROR(
          Credit(batch, event.complaint_sla_breached().assignee(), Kpi::kBreached, at));
      break;
    default:
      break;
  }
  batch.Put(state_key, base::SerializeDeterministic(after));
  return absl::OkStatus();
}

absl::Status ApplyInteraction(kv::KvBatch& batch, const EventEnvelope& event) {
  CRM_ASSIGN_OR_RETURN(bool fresh, Advance(batch, AggregateOf(event), event.aggregate_version()));
  if (!fresh) return absl::OkStatus();
  const auto& logged = event.interaction_logged();
  const crm::v1::Interaction interaction = domain::interaction::ToApi(logged.interaction());
  const absl::Time at = ToTime(event.occurred_at());
  using readmodel::analytics::kInteractionFigure;
  CRM_RETURN_IF_ERROR(
      CountAt(batch, kInteractionFigure, readmodel::analytics::kInteractionTotalDims, at, 1));
  CRM_RETURN_IF_ERROR(
      CountAt(batch, kInteractionFigure,
              readmodel::analytics::InteractionDims(interaction.channel(), interaction.direction()),
              at, 1));
  return Credit(batch, logged.staff(), Kpi::kInteractions, at);
}

// ---- Customers: sales, retention, conversion times.

// What the fold keeps of a customer beyond the domain's state (crm.v1.Customer, under the same
// key): when it last entered each stage, and its purchase times in time order. Stored as text:
// "<stage>=<seconds>.<nanos>,..." then ";" then "<seconds>.<nanos>,...".
struct CustomerFacts {
  crm::v1::Customer state;
  std::map<int, absl::Time> entered;
  std::vector<absl::Time> purchases;  // sorted; equal times in arrival order
};

std::string TimeText(absl::Time t) {
  const google::protobuf::Timestamp ts = base::ToTimestamp(t);
  return absl::StrCat(ts.seconds(), ".", ts.nanos());
}

bool ParseTimeText(absl::string_view text, absl::Time* t) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, '.');
  google::protobuf::Timestamp ts;
  int64_t seconds = 0;
  int32_t nanos = 0;
  if (!absl::SimpleAtoi(parts.first, &seconds) || !absl::SimpleAtoi(parts.second, &nanos)) {
    return false;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(nanos);
  *t = ToTime(ts);
  return true;
}

std::string FactsText(const CustomerFacts& f) {
  std::string out;
  for (const auto& [stage, at] : f.entered) {
    absl::StrAppend(&out, out.empty() ? "" : ",", stage, "=", TimeText(at));
  }
  absl::StrAppend(&out, ";");
  for (size_t i = 0; i < f.purchases.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", TimeText(f.purchases[i]));
  }
  return out;
}

bool ParseFactsText(absl::string_view text, CustomerFacts* f) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, ';');
  for (absl::string_view entry : absl::StrSplit(parts.first, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, '=');
    int stage = 0;
    absl::Time at;
    if (!absl::SimpleAtoi(kv.first, &stage) || !ParseTimeText(kv.second, &at)) return false;
    f->entered[stage] = at;
  }
  for (absl::string_view entry : absl::StrSplit(parts.second, ',', absl::SkipEmpty())) {
    absl::Time at;
    if (!ParseTimeText(entry, &at)) return false;
    f->purchases.push_back(at);
  }
  return true;
}

// The pairs (a, b) of purchase times, as bucket pairs, of `order` 1 (consecutive) or 2 (one
// purchase between), with multiplicity.
std::map<std::pair<int64_t, int64_t>, int64_t> Gaps(const std::vector<absl::Time>& purchases,
                                                    size_t order) {
  std::map<std::pair<int64_t, int64_t>, int64_t> out;
  for (size_t i = order; i < purchases.size(); ++i) {
    ++out[{readmodel::analytics::TimeBucketOf(purchases[i - order]),
           readmodel::analytics::TimeBucketOf(purchases[i])}];
  }
  return out;
}

// Makes `after` (sorted) the customer's purchase times: moves the purchase counter (at each time)
// and the pair counters from the old times to the new ones. A purchase adds its time, a whole
// refund takes it out, a merge moves every time from the merged customer to the survivor.
absl::Status SetPurchaseTimes(kv::KvBatch& batch, CustomerFacts& f, std::vector<absl::Time> after) {
  namespace an = readmodel::analytics;
  std::map<absl::Time, int64_t> moved;
  for (absl::Time t : after) ++moved[t];
  for (absl::Time t : f.purchases) --moved[t];
  for (const auto& [t, n] : moved) {
    if (n != 0) CRM_RETURN_IF_ERROR(CountAt(batch, an::kRetentionFigure, an::kPurchasesDims, t, n));
  }
  for (int order : {1, 2}) {
    std::map<std::pair<int64_t, int64_t>, int64_t> delta = Gaps(after, order);
    for (const auto& [pair, n] : Gaps(f.purchases, order)) delta[pair] -= n;
    int64_t total = 0;
    for (const auto& [pair, n] : delta) {
      CRM_RETURN_IF_ERROR(AddToCounter(batch, an::GapKey(order, pair.first, pair.second), n));
      total += n;
    }
    CRM_RETURN_IF_ERROR(
        AddToCounter(batch, absl::StrCat(an::kRetentionFigure, an::GapTotalDims(order)), total));
  }
  f.purchases = std::move(after);
  return absl::OkStatus();
}

// The purchase times with `at` added.
std::vector<absl::Time> With(std::vector<absl::Time> times, absl::Time at) {
  times.insert(std::upper_bound(times.begin(), times.end(), at), at);
  return times;
}

// A customer entered `stage` at `at`: the conversion times from every stage it entered before
// (from that stage's last entry), then the entry itself.
absl::Status EnterStage(kv::KvBatch& batch, CustomerFacts& f, int stage, absl::Time at,
                        absl::string_view entry_id) {
  for (const auto& [from, entered] : f.entered) {
    if (from == stage) continue;
    CRM_RETURN_IF_ERROR(
        RecordDurationIn(batch, readmodel::analytics::ConversionFigurePrefix(from, stage),
                         readmodel::analytics::MillisBetween(entered, at), at, entry_id));
  }
  f.entered[stage] = at;
  return absl::OkStatus();
}

// Adds `count` purchases of `amount_minor` of `purchase`'s product and currency at `at` to the
// sales figures of everyone and of the owner, team and department it was sold by (a refund:
// negative amounts, and a count of -1 once the purchase is wholly refunded).
absl::Status CountSale(kv::KvBatch& batch, absl::string_view owner, absl::string_view team,
                       absl::string_view department, const crm::events::v1::Purchase& purchase,
                       absl::Time at, int64_t count, int64_t amount_minor) {
  namespace an = readmodel::analytics;
  std::vector<std::pair<Scope, std::string>> scopes = {{Scope::kAll, ""}};
  if (!owner.empty()) scopes.emplace_back(Scope::kStaff, owner);
  if (!team.empty()) scopes.emplace_back(Scope::kTeam, team);
  if (!department.empty()) scopes.emplace_back(Scope::kDepartment, department);
  const std::string& currency = purchase.amount().currency_code();
  for (const auto& [scope, id] : scopes) {
    const std::string figure = an::SalesPrefix(scope, id);
    if (count != 0) {
      CRM_RETURN_IF_ERROR(
          CountAt(batch, figure, an::SalesDims(purchase.product(), currency, false), at, count));
    }
    CRM_RETURN_IF_ERROR(CountAt(batch, figure, an::SalesDims(purchase.product(), currency, true),
                                at, amount_minor));
  }
  return absl::OkStatus();
}

absl::Status ApplyCustomer(kv::KvBatch& batch, const EventEnvelope& event) {
  namespace an = readmodel::analytics;
  using Payload = EventEnvelope::PayloadCase;
  const std::string& id = event.customer_id();
  const std::string state_key = an::CustomerFactsKey(id);
  const std::string extra_key = absl::StrCat(state_key, absl::string_view("\0", 1), "x");
  CustomerFacts f;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(state_key));
  CRM_ASSIGN_OR_RETURN(auto stored_extra, batch.Get(extra_key));
  if ((stored.has_value() && !f.state.ParseFromString(*stored)) ||
      (stored_extra.has_value() && !ParseFactsText(*stored_extra, &f))) {
    return absl::InternalError(absl::StrCat("analytics state of customers/", id, " is corrupt"));
  }
  if (event.aggregate_version() <= f.state.version()) return absl::OkStatus();  // seen already
  if (f.state.version() == 0 && event.payload_case() != Payload::kCustomerRegistered) {
    return absl::OkStatus();  // a customer never registered: impossible in a valid log
  }
  const crm::v1::Customer before = f.state;
  // The one reading of a customer event: the domain's.
  if (absl::Status applied = domain::customer::Apply(f.state, event); !applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of customers/", id,
                                            " cannot be applied: ", applied.message()));
  }
  const absl::Time at = ToTime(event.occurred_at());
  const std::string entry_id = absl::StrCat(id, "@", event.aggregate_version());
  switch (event.payload_case()) {
    case Payload::kCustomerRegistered:
      if (f.state.lifecycle_stage() != crm::v1::CHURNED) {
        CRM_RETURN_IF_ERROR(CountAt(batch, an::kRetentionFigure, an::kRegisteredDims, at, 1));
      }
      CRM_RETURN_IF_ERROR(EnterStage(batch, f, f.state.lifecycle_stage(), at, entry_id));
      break;
    case Payload::kLifecycleStageChanged:
      if (f.state.lifecycle_stage() == crm::v1::CHURNED) {
        CRM_RETURN_IF_ERROR(CountAt(batch, an::kRetentionFigure, an::kChurnedDims, at, 1));
      } else if (before.lifecycle_stage() == crm::v1::CHURNED) {
        CRM_RETURN_IF_ERROR(CountAt(batch, an::kRetentionFigure, an::kWonBackDims, at, 1));
      }
      CRM_RETURN_IF_ERROR(EnterStage(batch, f, f.state.lifecycle_stage(), at, entry_id));
      break;
    case Payload::kCustomerMergedInto:
      // A duplicate leaves the customers who could churn, without churning.
      if (before.lifecycle_stage() != crm::v1::CHURNED) {
        CRM_RETURN_IF_ERROR(CountAt(batch, an::kRetentionFigure, an::kMergedAwayDims, at, 1));
      }
      // Its purchases are the survivor's now (CustomerMerged adds them there).
      if (event.customer_merged_into().purchases_moved()) {
        CRM_RETURN_IF_ERROR(SetPurchaseTimes(batch, f, {}));
      }
      break;
    case Payload::kCustomerMerged:
      if (event.customer_merged().purchases_moved()) {
        std::vector<absl::Time> times = f.purchases;
        for (const auto& moved : event.customer_merged().merged_purchases()) {
          times = With(std::move(times), ToTime(moved.purchase().purchased_at()));
        }
        CRM_RETURN_IF_ERROR(SetPurchaseTimes(batch, f, std::move(times)));
      }
      break;
    case Payload::kPurchaseRecorded: {
      const crm::events::v1::Purchase& purchase = event.purchase_recorded().purchase();
      CRM_RETURN_IF_ERROR(CountSale(batch, before.owner(), before.team(), before.department(),
                                    purchase, at, 1, purchase.amount().amount_minor()));
      CRM_RETURN_IF_ERROR(SetPurchaseTimes(batch, f, With(f.purchases, at)));
      break;
    }
    case Payload::kPurchaseRefunded: {
      // Sales are net: the refund comes off the seller's figures when it happens. Repeat
      // purchases lose a purchase wholly refunded as if it had not been made.
      const auto& refunded = event.purchase_refunded();
      const crm::events::v1::Purchase& purchase = refunded.purchase();
      const bool whole = refunded.refunded_minor() == purchase.amount().amount_minor();
      CRM_RETURN_IF_ERROR(CountSale(batch, refunded.sold_by_owner(), refunded.sold_by_team(),
                                    refunded.sold_by_department(), purchase, at, whole ? -1 : 0,
                                    -refunded.amount().amount_minor()));
      if (whole) {
        const absl::Time bought = ToTime(purchase.purchased_at());
        // Not there: not a purchase this customer's facts hold (e.g. a merged one's of old).
        std::vector<absl::Time> times = f.purchases;
        if (auto it = std::lower_bound(times.begin(), times.end(), bought);
            it != times.end() && *it == bought) {
          times.erase(it);
          CRM_RETURN_IF_ERROR(SetPurchaseTimes(batch, f, std::move(times)));
        }
      }
      break;
    }
    default:
      break;
  }
  batch.Put(state_key, base::SerializeDeterministic(f.state));
  batch.Put(extra_key, FactsText(f));
  return absl::OkStatus();
}

}  // namespace

absl::Status AnalyticsFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  // Every complaint event, of a type this build knows or not, moves the complaint's version.
  if (domain::complaint::IsComplaintEvent(event)) return ApplyComplaint(batch, event);
  if (event.payload_case() == EventEnvelope::kInteractionLogged) {
    return ApplyInteraction(batch, event);
  }
  // Every event of a customer's own stream moves the customer's version.
  if (domain::customer::IsCustomerEvent(event) && !event.customer_id().empty() &&
      (event.aggregate().empty() ||
       event.aggregate() == absl::StrCat("customers/", event.customer_id()))) {
    return ApplyCustomer(batch, event);
  }
  return absl::OkStatus();  // Not an analytics fact.
}

}  // namespace crm::projections::analytics
