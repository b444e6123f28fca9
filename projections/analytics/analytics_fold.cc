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
#include "domain/complaint/event_codec.h"
#include "domain/interaction/event_codec.h"
#include "readmodel/analytics/analytics_keys.h"
#include "readmodel/analytics/figures.h"

namespace crm::projections::analytics {
namespace {

using crm::events::v1::EventEnvelope;
using crm::events::v1::StaffRef;
using crm::v1::Complaint;
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

// Applies `change` to deadline `d` of complaint `c`, moving it between outcome counters.
template <typename Change>
absl::Status UpdateDeadline(kv::KvBatch& batch, const Complaint& c, SlaDeadline& d, Change change) {
  const std::optional<SlaOutcome> before = OutcomeOf(d);
  change(d);
  const std::optional<SlaOutcome> after = OutcomeOf(d);
  if (before == after) return absl::OkStatus();
  if (before.has_value()) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, SlaKey(d.kind(), c.severity(), *before), -1));
  }
  if (after.has_value()) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, SlaKey(d.kind(), c.severity(), *after), 1));
  }
  return absl::OkStatus();
}

absl::Status SetStatus(kv::KvBatch& batch, Complaint& c, ComplaintStatus status) {
  if (c.status() == status) return absl::OkStatus();
  if (c.status() != crm::v1::COMPLAINT_STATUS_UNSPECIFIED) {
    CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kStatus, c.status()), -1));
  }
  CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kStatus, status), 1));
  c.set_status(status);
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
    batch.Put(readmodel::analytics::DurationEntryKey(prefix, millis, aggregate), "");
  }
  return absl::OkStatus();
}

SlaDeadline NewDeadline(crm::v1::SlaKind kind, const google::protobuf::Timestamp* due) {
  SlaDeadline d;
  d.set_kind(kind);
  if (due != nullptr) *d.mutable_due_time() = *due;
  return d;
}

absl::Status ApplyFiled(kv::KvBatch& batch, const EventEnvelope& event, Complaint& c) {
  const auto& filed = event.complaint_filed();
  c.set_channel(ToApi(filed.channel()));
  c.set_category(ToApi(filed.category()));
  c.set_severity(ToApi(filed.severity()));
  *c.mutable_create_time() = event.occurred_at();
  const absl::Time at = ToTime(event.occurred_at());
  CRM_RETURN_IF_ERROR(AddToCounter(batch, readmodel::analytics::kComplaintTotalKey, 1));
  CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kCategory, c.category()), 1));
  CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kSeverity, c.severity()), 1));
  CRM_RETURN_IF_ERROR(AddToCounter(batch, DimensionKey(Dimension::kChannel, c.channel()), 1));
  CRM_RETURN_IF_ERROR(AddToCounter(
      batch, DimensionKey(Dimension::kDay, absl::FormatTime("%Y-%m-%d", at, absl::UTCTimeZone())),
      1));
  CRM_RETURN_IF_ERROR(AddToCounter(
      batch, DimensionKey(Dimension::kMonth, absl::FormatTime("%Y-%m", at, absl::UTCTimeZone())),
      1));
  CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::FILED));
  // Deadlines start empty (no outcome) and get their due time through UpdateDeadline, which
  // counts them as pending.
  *c.mutable_response_deadline() = NewDeadline(crm::v1::RESPONSE, nullptr);
  *c.mutable_resolution_deadline() = NewDeadline(crm::v1::RESOLUTION, nullptr);
  if (filed.has_response_due_time()) {
    CRM_RETURN_IF_ERROR(
        UpdateDeadline(batch, c, *c.mutable_response_deadline(),
                       [&](SlaDeadline& d) { *d.mutable_due_time() = filed.response_due_time(); }));
  }
  if (filed.has_resolution_due_time()) {
    CRM_RETURN_IF_ERROR(UpdateDeadline(
        batch, c, *c.mutable_resolution_deadline(),
        [&](SlaDeadline& d) { *d.mutable_due_time() = filed.resolution_due_time(); }));
  }
  return absl::OkStatus();
}

absl::Status ApplyComplaint(kv::KvBatch& batch, const EventEnvelope& event) {
  using Payload = EventEnvelope::PayloadCase;
  const std::string aggregate = AggregateOf(event);
  CRM_ASSIGN_OR_RETURN(bool fresh, Advance(batch, aggregate, event.aggregate_version()));
  if (!fresh) return absl::OkStatus();

  const std::string state_key = readmodel::analytics::ComplaintStateKey(aggregate);
  Complaint c;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(state_key));
  if (stored.has_value() && !c.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("analytics state of ", aggregate, " is corrupt"));
  }
  const bool filing = event.payload_case() == Payload::kComplaintFiled;
  // Only a filing starts a complaint, and only once. A valid log has neither case; without the
  // filing there is nothing (severity, filing time) to attribute the event to.
  if (stored.has_value() == filing) return absl::OkStatus();

  const absl::Time at = ToTime(event.occurred_at());
  switch (event.payload_case()) {
    case Payload::kComplaintFiled:
      CRM_RETURN_IF_ERROR(ApplyFiled(batch, event, c));
      break;
    case Payload::kComplaintAcknowledged:
      if (!c.response_deadline().has_met_time()) {
        CRM_RETURN_IF_ERROR(
            RecordDuration(batch, DurationMetric::kFirstResponse, c, at, aggregate));
        CRM_RETURN_IF_ERROR(
            UpdateDeadline(batch, c, *c.mutable_response_deadline(),
                           [&](SlaDeadline& d) { *d.mutable_met_time() = event.occurred_at(); }));
      }
      CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::ACKNOWLEDGED));
      break;
    case Payload::kComplaintAssigned:
      CRM_RETURN_IF_ERROR(Credit(batch, event.complaint_assigned().assignee(), Kpi::kAssigned));
      if (c.status() == crm::v1::FILED || c.status() == crm::v1::ACKNOWLEDGED ||
          c.status() == crm::v1::REOPENED) {
        CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::ASSIGNED));
      }
      break;
    case Payload::kComplaintInvestigationStarted:
      CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::INVESTIGATING));
      break;
    case Payload::kComplaintResolved: {
      const auto& resolved = event.complaint_resolved();
      CRM_RETURN_IF_ERROR(
          AddToCounter(batch, readmodel::analytics::RootCauseKey(ToApi(resolved.root_cause())), 1));
      CRM_RETURN_IF_ERROR(Credit(batch, resolved.resolver(), Kpi::kResolved));
      if (!c.resolution_deadline().has_met_time()) {
        CRM_RETURN_IF_ERROR(
            UpdateDeadline(batch, c, *c.mutable_resolution_deadline(),
                           [&](SlaDeadline& d) { *d.mutable_met_time() = event.occurred_at(); }));
      }
      if (!c.has_resolve_time()) {
        CRM_RETURN_IF_ERROR(RecordDuration(batch, DurationMetric::kResolution, c, at, aggregate));
        *c.mutable_resolve_time() = event.occurred_at();
      }
      CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::RESOLVED));
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
      CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::FOLLOWED_UP));
      break;
    }
    case Payload::kComplaintClosed:
      CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::CLOSED));
      break;
    case Payload::kComplaintReopened: {
      const auto& reopened = event.complaint_reopened();
      // The previous resolution deadline keeps its outcome; the new one starts pending.
      *c.mutable_resolution_deadline() = NewDeadline(crm::v1::RESOLUTION, nullptr);
      if (reopened.has_resolution_due_time()) {
        CRM_RETURN_IF_ERROR(UpdateDeadline(
            batch, c, *c.mutable_resolution_deadline(),
            [&](SlaDeadline& d) { *d.mutable_due_time() = reopened.resolution_due_time(); }));
      }
      c.set_reopen_count(c.reopen_count() + 1);
      CRM_RETURN_IF_ERROR(SetStatus(batch, c, crm::v1::REOPENED));
      break;
    }
    case Payload::kComplaintEscalated:
      c.set_escalation_level(event.complaint_escalated().level());
      break;
    case Payload::kComplaintSlaBreached: {
      const auto& breached = event.complaint_sla_breached();
      CRM_RETURN_IF_ERROR(Credit(batch, breached.assignee(), Kpi::kBreached));
      SlaDeadline* d = nullptr;
      const crm::v1::SlaKind kind = ToApi(breached.kind());
      if (kind == crm::v1::RESPONSE) d = c.mutable_response_deadline();
      if (kind == crm::v1::RESOLUTION) d = c.mutable_resolution_deadline();
      if (d != nullptr) {
        CRM_RETURN_IF_ERROR(UpdateDeadline(batch, c, *d, [&](SlaDeadline& dl) {
          // A deadline the fold had no due time for takes the breach's.
          if (!dl.has_due_time()) *dl.mutable_due_time() = breached.due_time();
          dl.set_breached(true);
        }));
      }
      break;
    }
    default:
      break;
  }
  batch.Put(state_key, base::SerializeDeterministic(c));
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
  using Payload = EventEnvelope::PayloadCase;
  switch (event.payload_case()) {
    case Payload::kInteractionLogged:
      return ApplyInteraction(batch, event);
    case Payload::kComplaintFiled:
    case Payload::kComplaintAcknowledged:
    case Payload::kComplaintAssigned:
    case Payload::kComplaintInvestigationStarted:
    case Payload::kComplaintResolved:
    case Payload::kComplaintFollowUpVisitRecorded:
    case Payload::kComplaintClosed:
    case Payload::kComplaintReopened:
    case Payload::kComplaintEscalated:
    case Payload::kComplaintSlaBreached:
      return ApplyComplaint(batch, event);
    default:
      return absl::OkStatus();  // Not an analytics fact.
  }
}

}  // namespace crm::projections::analytics
