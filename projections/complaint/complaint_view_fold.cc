#include "projections/complaint/complaint_view_fold.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "readmodel/complaint/complaint_views.h"
#include "readmodel/complaint/view_keys.h"

namespace crm::projections::complaint {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Complaint;
using readmodel::complaint::Index;

// "customers/{cid}/complaints/{id}" with non-empty ids; the customer id, or empty if malformed.
std::string CustomerOfName(absl::string_view name) {
  if (name.find('\0') != absl::string_view::npos) return "";
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "customers" || parts[2] != "complaints" ||
      parts[1].empty() || parts[3].empty()) {
    return "";
  }
  return std::string(parts[1]);
}

// When the step of `event` was done: its business time, else when it was recorded.
const google::protobuf::Timestamp& StepTime(const EventEnvelope& event) {
  return event.has_occurred_at() ? event.occurred_at() : event.recorded_at();
}

void MarkBreached(crm::v1::SlaDeadline& deadline, const crm::events::v1::ComplaintSlaBreached& e) {
  // A breach of an earlier deadline (before a reopen replaced it) leaves the current one alone.
  if (e.has_due_time() && deadline.has_due_time() &&
      (e.due_time().seconds() != deadline.due_time().seconds() ||
       e.due_time().nanos() != deadline.due_time().nanos())) {
    return;
  }
  deadline.set_breached(true);
}

// Every index, deadline and breached key a complaint record has.
std::set<std::string> EntryKeys(const Complaint& c) {
  namespace rm = readmodel::complaint;
  std::set<std::string> out;
  if (c.version() == 0) return out;
  out.insert(rm::IndexKey(Index::kStatus, crm::v1::ComplaintStatus_Name(c.status()), c.name()));
  out.insert(
      rm::IndexKey(Index::kCategory, crm::v1::ComplaintCategory_Name(c.category()), c.name()));
  out.insert(
      rm::IndexKey(Index::kSeverity, crm::v1::ComplaintSeverity_Name(c.severity()), c.name()));
  if (!c.assignee().staff_id().empty()) {
    out.insert(rm::IndexKey(Index::kAssignee, c.assignee().staff_id(), c.name()));
  }
  for (const crm::v1::SlaDeadline* d : rm::OpenDeadlines(c)) {
    out.insert(rm::DeadlineKey(d->due_time(), c.name(), d->kind()));
  }
  if (rm::BreachedUnresolved(c)) out.insert(rm::BreachedKey(c.name()));
  return out;
}

}  // namespace

bool IsComplaintEvent(const EventEnvelope& event) {
  switch (event.payload_case()) {
    case EventEnvelope::kComplaintFiled:
    case EventEnvelope::kComplaintAcknowledged:
    case EventEnvelope::kComplaintAssigned:
    case EventEnvelope::kComplaintInvestigationStarted:
    case EventEnvelope::kComplaintResolved:
    case EventEnvelope::kComplaintFollowUpVisitRecorded:
    case EventEnvelope::kComplaintClosed:
    case EventEnvelope::kComplaintReopened:
    case EventEnvelope::kComplaintEscalated:
    case EventEnvelope::kComplaintSlaBreached:
      return true;
    default:
      return false;
  }
}

absl::Status ApplyComplaintEvent(Complaint& view, const EventEnvelope& event) {
  if (event.aggregate_version() != view.version() + 1) {
    return absl::InvalidArgumentError(absl::StrCat("event version ", event.aggregate_version(),
                                                   " does not follow version ", view.version()));
  }
  if (view.version() == 0 && !event.has_complaint_filed()) {
    return absl::InvalidArgumentError("the first event of a complaint must be ComplaintFiled");
  }
  const google::protobuf::Timestamp& when = StepTime(event);
  switch (event.payload_case()) {
    case EventEnvelope::kComplaintFiled: {
      if (view.version() != 0) {
        return absl::InvalidArgumentError("ComplaintFiled on a complaint that exists");
      }
      const auto& e = event.complaint_filed();
      view.set_name(event.aggregate());
      view.set_channel(e.channel());
      view.set_category(e.category());
      view.set_severity(e.severity());
      view.set_description(e.description());
      view.set_status(crm::v1::FILED);
      auto* response = view.mutable_response_deadline();
      response->set_kind(crm::v1::RESPONSE);
      if (e.has_response_due_time()) *response->mutable_due_time() = e.response_due_time();
      auto* resolution = view.mutable_resolution_deadline();
      resolution->set_kind(crm::v1::RESOLUTION);
      if (e.has_resolution_due_time()) *resolution->mutable_due_time() = e.resolution_due_time();
      *view.mutable_create_time() = event.recorded_at();
      break;
    }
    case EventEnvelope::kComplaintAcknowledged:
      view.set_status(crm::v1::ACKNOWLEDGED);
      if (!view.response_deadline().has_met_time()) {
        *view.mutable_response_deadline()->mutable_met_time() = when;
      }
      break;
    case EventEnvelope::kComplaintAssigned: {
      const auto status = view.status();
      if (status == crm::v1::FILED || status == crm::v1::ACKNOWLEDGED ||
          status == crm::v1::REOPENED) {
        view.set_status(crm::v1::ASSIGNED);
      }
      *view.mutable_assignee() = event.complaint_assigned().assignee();
      break;
    }
    case EventEnvelope::kComplaintInvestigationStarted: {
      view.set_status(crm::v1::INVESTIGATING);
      const auto& assignee = event.complaint_investigation_started().assignee();
      if (!assignee.staff_id().empty()) *view.mutable_assignee() = assignee;
      break;
    }
    case EventEnvelope::kComplaintResolved: {
      const auto& e = event.complaint_resolved();
      view.set_status(crm::v1::RESOLVED);
      view.set_resolution(e.resolution());
      view.set_root_cause(e.root_cause());
      *view.mutable_resolve_time() = when;
      if (!view.resolution_deadline().has_met_time()) {
        *view.mutable_resolution_deadline()->mutable_met_time() = when;
      }
      break;
    }
    case EventEnvelope::kComplaintFollowUpVisitRecorded: {
      view.set_status(crm::v1::FOLLOWED_UP);
      *view.mutable_follow_up() = event.complaint_follow_up_visit_recorded().visit();
      if (!view.follow_up().has_visit_time()) {
        *view.mutable_follow_up()->mutable_visit_time() = when;
      }
      break;
    }
    case EventEnvelope::kComplaintClosed:
      view.set_status(crm::v1::CLOSED);
      *view.mutable_close_time() = when;
      break;
    case EventEnvelope::kComplaintReopened: {
      const auto& e = event.complaint_reopened();
      view.set_status(crm::v1::REOPENED);
      view.set_reopen_count(view.reopen_count() + 1);
      // No longer resolved: the next ResolveComplaint records the new resolution. The previous
      // one stays in the history.
      view.clear_resolution();
      view.clear_root_cause();
      view.clear_resolve_time();
      view.clear_close_time();
      auto* resolution = view.mutable_resolution_deadline();
      resolution->Clear();
      resolution->set_kind(crm::v1::RESOLUTION);
      if (e.has_resolution_due_time()) *resolution->mutable_due_time() = e.resolution_due_time();
      break;
    }
    case EventEnvelope::kComplaintEscalated: {
      const auto& e = event.complaint_escalated();
      view.set_escalation_level(e.level());
      *view.mutable_escalated_to() = e.to();
      break;
    }
    case EventEnvelope::kComplaintSlaBreached: {
      const auto& e = event.complaint_sla_breached();
      if (e.kind() == crm::v1::RESPONSE) {
        MarkBreached(*view.mutable_response_deadline(), e);
      } else if (e.kind() == crm::v1::RESOLUTION) {
        MarkBreached(*view.mutable_resolution_deadline(), e);
      }
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("not a complaint event: ", event.event_type()));
  }
  view.set_version(event.aggregate_version());
  view.set_etag(absl::StrCat("v", view.version()));
  *view.mutable_update_time() = event.recorded_at();
  return absl::OkStatus();
}

absl::Status ComplaintViewFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (!IsComplaintEvent(event)) return absl::OkStatus();  // another fold's business

  const std::string& name = event.aggregate();
  const std::string customer_id = CustomerOfName(name);
  if (customer_id.empty() || (!event.customer_id().empty() && event.customer_id() != customer_id)) {
    return absl::DataLossError(absl::StrCat("complaint event ", event.event_id(),
                                            " has aggregate '", name, "', not customers/",
                                            event.customer_id(), "/complaints/{id}"));
  }
  const std::string key = readmodel::complaint::ComplaintKey(name);
  Complaint before;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  if (stored.has_value() && !before.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("view of ", name, " cannot be decoded"));
  }
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();  // seen already

  Complaint after = before;
  absl::Status applied = ApplyComplaintEvent(after, event);
  if (!applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", name,
                                            " cannot be applied: ", applied.message()));
  }

  const std::set<std::string> old_keys = EntryKeys(before);
  const std::set<std::string> new_keys = EntryKeys(after);
  for (const auto& k : old_keys) {
    if (!new_keys.count(k)) batch.Delete(k);
  }
  for (const auto& k : new_keys) {
    if (!old_keys.count(k)) batch.Put(k, "");
  }
  batch.Put(key, base::SerializeDeterministic(after));
  batch.Put(readmodel::complaint::HistoryKey(name, event.aggregate_version()), record.value);
  return absl::OkStatus();
}

}  // namespace crm::projections::complaint
