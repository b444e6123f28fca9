#include "projections/analytics/analytics_fold.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/complaint.pb.h"
#include "domain/common/event_types.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/complaint/event_codec.h"
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
using readmodel::analytics::Dimension;
using readmodel::analytics::DimensionKey;
using readmodel::analytics::DurationMetric;
using readmodel::analytics::Kpi;
using readmodel::analytics::KpiKey;
using readmodel::analytics::Scope;
using readmodel::analytics::SlaKey;
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

absl::Status Credit(kv::KvBatch& batch, const StaffRef& ref, Kpi kpi) {
  for (const auto& [scope, id] : ScopesOf(ref)) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, KpiKey(scope, id, kpi), 1));
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

// Moves a status counter from the complaint's old status to its new one.
absl::Status CountStatus(kv::KvBatch& batch, ComplaintStatus before, ComplaintStatus after) {
  if (before == after) return absl::OkStatus();
  if (before != crm::v1::COMPLAINT_STATUS_UNSPECIFIED) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kStatus, before), -1));
  }
  if (after != crm::v1::COMPLAINT_STATUS_UNSPECIFIED) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kStatus, after), 1));
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
  if (was.has_value()) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, SlaKey(after.kind(), severity, *was), -1));
  }
  if (is.has_value()) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, SlaKey(after.kind(), severity, *is), 1));
  }
  return absl::OkStatus();
}

// Records one duration of `metric` for all complaints and for the complaint's severity.
absl::Status RecordDuration(kv::KvBatch& batch, DurationMetric metric, const Complaint& c,
                            absl::Time at, absl::string_view aggregate) {
  const int64_t millis = readmodel::analytics::MillisBetween(ToTime(c.create_time()), at);
  for (std::optional<int> severity : {std::optional<int>(), std::optional<int>(c.severity())}) {
    const std::string prefix = readmodel::analytics::DurationFigurePrefix(metric, severity);
    CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::analytics::DurationCountKey(prefix), 1));
    CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::analytics::DurationSumKey(prefix), millis));
    CRM_RETURN_IF_ERROR(AddToCounter(batch,
                                     readmodel::analytics::DurationBucketKey(
                                         prefix, readmodel::analytics::DurationBucketOf(millis)),
                                     1));
    batch.Put(readmodel::analytics::DurationEntryKey(prefix, millis, aggregate), "");
  }
  return absl::OkStatus();
}

absl::Status CountFiling(kv::KvBatch& batch, const Complaint& c) {
  const absl::Time at = ToTime(c.create_time());
  CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::analytics::kComplaintTotalKey, 1));
  CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kCategory, c.category()), 1));
  CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kSeverity, c.severity()), 1));
  CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kChannel, c.channel()), 1));
  CRM_RETURN_IF_ERROR(AddToCounter(
      batch, DimensionKey(Dimension::kDay, absl::FormatTime("%Y-%m-%d", at, absl::UTCTimeZone())),
      1));
  return AddToCounter(
      batch, DimensionKey(Dimension::kMonth, absl::FormatTime("%Y-%m", at, absl::UTCTimeZone())),
      1);
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
  CRM_RETURN_IF_ERROR(CountStatus(batch, before.status(), after.status()));
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

  // Credits: who the event names, as it was then (never org state).
  switch (event.payload_case()) {
    case Payload::kComplaintAssigned:
      CRM_RETURN_IF_ERROR(Credit(batch, event.complaint_assigned().assignee(), Kpi::kAssigned));
      break;
    case Payload::kComplaintResolved: {
      const auto& resolved = event.complaint_resolved();
      CRM_RETURN_IF_ERROR(
          AddToCounter(batch, readmodel::analytics::RootCauseKey(ToApi(resolved.root_cause())), 1));
      CRM_RETURN_IF_ERROR(Credit(batch, resolved.resolver(), Kpi::kResolved));
      break;
    }
    case Payload::kComplaintFollowUpVisitRecorded: {
      const auto& recorded = event.complaint_follow_up_visit_recorded();
      const int csat = recorded.visit().csat();
      for (const auto& [scope, id] : ScopesOf(recorded.resolver())) {
        if (csat >= 1 && csat <= 5) {
          CRM_RETURN_IF_ERROR(
              AddToCounter(batch, readmodel::analytics::CsatScoreKey(scope, id, csat), 1));
        }
        if (recorded.visit().satisfied()) {
          CRM_RETURN_IF_ERROR(
              AddToCounter(batch, readmodel::analytics::CsatSatisfiedKey(scope, id), 1));
        }
      }
      break;
    }
    case Payload::kComplaintSlaBreached:
      CRM_RETURN_IF_ERROR(Credit(batch, event.complaint_sla_breached().assignee(), Kpi::kBreached));
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
  CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::analytics::kInteractionTotalKey, 1));
  CRM_RETURN_IF_ERROR(AddToCounter(
      batch, readmodel::analytics::InteractionKey(interaction.channel(), interaction.direction()),
      1));
  return Credit(batch, logged.staff(), Kpi::kInteractions);
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
  return absl::OkStatus();  // Not an analytics fact.
}

}  // namespace crm::projections::analytics
