#include "projections/org/org_view_fold.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/complaint.pb.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/interaction.pb.h"
#include "crm/v1/org_service.pb.h"
#include "domain/common/event_types.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/improvement/improvement_action.h"
#include "domain/interaction/interaction_aggregate.h"
#include "domain/org/org_aggregate.h"
#include "domain/org/org_names.h"
#include "readmodel/org/org_view_keys.h"
#include "readmodel/org/work_queue.h"

namespace crm::projections::org {
namespace {

using crm::events::v1::EventEnvelope;
using readmodel::org::Index;
using Entries = std::set<std::pair<Index, std::string>>;

template <typename T>
absl::StatusOr<T> Load(const kv::KvBatch& batch, const std::string& key) {
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  T out;
  if (stored.has_value() && !out.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("org view entry cannot be decoded: ", key));
  }
  return out;
}

// --- Org records and their indexes. ---

// A removed department or team is in no list.
Entries EntriesOf(const crm::v1::Department& d) {
  if (d.has_delete_time()) return {};
  return {{Index::kDepartmentFunction, crm::v1::DepartmentFunction_Name(d.function())}};
}
Entries EntriesOf(const crm::v1::Team& t) {
  if (t.has_delete_time()) return {};
  return {{Index::kTeamDepartment, t.department()}};
}
Entries EntriesOf(const crm::v1::Staff& s) {
  Entries out = {{Index::kStaffDepartment, s.department()},
                 {Index::kStaffRole, crm::v1::StaffRole_Name(s.role())},
                 {Index::kStaffActive, s.active() ? "1" : "0"}};
  if (!s.team().empty()) out.emplace(Index::kStaffTeam, s.team());
  if (!s.manager().empty()) out.emplace(Index::kStaffManager, s.manager());
  return out;
}

Entries EntriesOf(const crm::v1::ImprovementAction& a) {
  return {{Index::kActionState, crm::v1::ImprovementActionState_Name(a.state())},
          {Index::kActionCause, crm::v1::RootCause_Name(a.root_cause())},
          {Index::kActionOwner, a.owner()}};
}

template <typename T>
absl::Status ApplyRecord(const EventEnvelope& event, absl::string_view prefix,
                         std::string (*key_of)(absl::string_view),
                         absl::Status (*apply)(T&, const EventEnvelope&), kv::KvBatch& batch) {
  const absl::string_view id = domain::org::IdOf(event.aggregate(), prefix);
  if (id.empty()) {
    return absl::DataLossError(
        absl::StrCat("org event ", event.event_id(), " has aggregate '", event.aggregate(), "'"));
  }
  const std::string key = key_of(id);
  CRM_ASSIGN_OR_RETURN(T before, Load<T>(batch, key));
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();  // seen already
  T after = before;
  absl::Status applied = apply(after, event);
  if (!applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                            " cannot be applied: ", applied.message()));
  }
  const Entries old_entries = before.version() == 0 ? Entries() : EntriesOf(before);
  const Entries new_entries = EntriesOf(after);
  for (const auto& [index, value] : old_entries) {
    if (!new_entries.count({index, value})) {
      batch.Delete(readmodel::org::IndexKey(index, value, id));
    }
  }
  for (const auto& [index, value] : new_entries) {
    if (!old_entries.count({index, value}))
      batch.Put(readmodel::org::IndexKey(index, value, id), "");
  }
  batch.Put(key, base::SerializeDeterministic(after));
  return absl::OkStatus();
}

// --- Workload. ---

// Adds to a staff member's counters; the entry is removed when both are back to zero.
absl::Status Adjust(kv::KvBatch& batch, const std::string& staff_id, int64_t customers,
                    int64_t open_complaints) {
  if (customers == 0 && open_complaints == 0) return absl::OkStatus();
  const std::string key = readmodel::org::WorkloadKey(staff_id);
  CRM_ASSIGN_OR_RETURN(crm::v1::Workload w, Load<crm::v1::Workload>(batch, key));
  w.set_customers_owned(w.customers_owned() + customers);
  w.set_open_complaints(w.open_complaints() + open_complaints);
  if (w.customers_owned() == 0 && w.open_complaints() == 0) {
    batch.Delete(key);
  } else {
    batch.Put(key, base::SerializeDeterministic(w));
  }
  return absl::OkStatus();
}

// What one tracked item (complaint or follow-up) adds to the views.
struct Contribution {
  std::string staff_id;
  bool open_complaint = false;
  std::optional<absl::Time> due_from;  // entry in the due index
};

Contribution OfComplaint(const crm::v1::Complaint& c) {
  Contribution out;
  if (c.version() == 0 || c.status() == crm::v1::CLOSED) return out;
  out.staff_id = c.assignee().staff_id();
  out.open_complaint = true;
  if (c.resolution_deadline().has_met_time()) return out;  // resolved: not overdue
  // A reopen starts a new round: only its resolution deadline counts, not the first round's
  // response (met, and maybe breached, before the reopen).
  const bool response_counts = c.reopen_count() == 0;
  if ((response_counts && c.response_deadline().breached()) || c.resolution_deadline().breached()) {
    out.due_from = absl::InfinitePast();
    return out;
  }
  const auto& response = c.response_deadline();
  if (response_counts && response.has_due_time() && !response.has_met_time())
    out.due_from = base::ToTime(response.due_time());
  const auto& resolution = c.resolution_deadline();
  if (resolution.has_due_time()) {
    const absl::Time due = base::ToTime(resolution.due_time());
    if (!out.due_from.has_value() || due < *out.due_from) out.due_from = due;
  }
  return out;
}

Contribution OfFollowUp(const crm::v1::Interaction& i) {
  Contribution out;
  if (i.version() == 0 || !i.has_follow_up_due_time() || i.has_follow_up_complete_time()) {
    return out;
  }
  out.staff_id = i.staff_id();
  out.due_from = base::ToTime(i.follow_up_due_time());
  return out;
}

absl::Status Replace(kv::KvBatch& batch, const std::string& aggregate, const Contribution& before,
                     const Contribution& after) {
  if (before.open_complaint) CRM_RETURN_IF_ERROR(Adjust(batch, before.staff_id, 0, -1));
  if (after.open_complaint) CRM_RETURN_IF_ERROR(Adjust(batch, after.staff_id, 0, +1));
  if (before.due_from.has_value()) {
    batch.Delete(readmodel::org::DueKey(*before.due_from, aggregate));
  }
  if (after.due_from.has_value()) {
    batch.Put(readmodel::org::DueKey(*after.due_from, aggregate), after.staff_id);
  }
  return absl::OkStatus();
}

// Moves an item's work-queue entries: those it no longer has go, new ones come.
void ReplaceQueue(kv::KvBatch& batch, const std::set<std::string>& before,
                  const std::set<std::string>& after) {
  for (const std::string& key : before) {
    if (!after.count(key)) batch.Delete(key);
  }
  for (const std::string& key : after) {
    if (!before.count(key)) batch.Put(key, "");
  }
}

absl::Status ApplyOwner(const EventEnvelope& event, kv::KvBatch& batch) {
  const std::string key = readmodel::org::CustomerTrackKey(event.customer_id());
  CRM_ASSIGN_OR_RETURN(crm::v1::Customer tracked, Load<crm::v1::Customer>(batch, key));
  if (event.aggregate_version() <= tracked.version()) return absl::OkStatus();
  const std::string before = tracked.owner();
  const std::string after = event.has_owner_assigned() ? event.owner_assigned().owner() : "";
  if (before != after) {
    if (!before.empty()) CRM_RETURN_IF_ERROR(Adjust(batch, before, -1, 0));
    if (!after.empty()) CRM_RETURN_IF_ERROR(Adjust(batch, after, +1, 0));
  }
  tracked.set_name(absl::StrCat("customers/", event.customer_id()));
  tracked.set_owner(after);
  tracked.set_version(event.aggregate_version());
  batch.Put(key, base::SerializeDeterministic(tracked));
  return absl::OkStatus();
}

absl::Status ApplyComplaint(const EventEnvelope& event, kv::KvBatch& batch) {
  if (event.aggregate().empty()) {
    return absl::DataLossError(
        absl::StrCat("complaint event ", event.event_id(), " has no aggregate"));
  }
  const std::string key = readmodel::org::ComplaintTrackKey(event.aggregate());
  CRM_ASSIGN_OR_RETURN(crm::v1::Complaint before, Load<crm::v1::Complaint>(batch, key));
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();
  crm::v1::Complaint after = before;
  // The one reading of a complaint event, the domain's; the workload is derived from its result.
  if (absl::Status applied = domain::complaint::Apply(after, event); !applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                            " cannot be applied: ", applied.message()));
  }
  CRM_RETURN_IF_ERROR(Replace(batch, event.aggregate(), OfComplaint(before), OfComplaint(after)));
  ReplaceQueue(batch, readmodel::org::QueueKeysOf(before), readmodel::org::QueueKeysOf(after));
  batch.Put(key, base::SerializeDeterministic(after));
  return absl::OkStatus();
}

absl::Status ApplyInteraction(const EventEnvelope& event, kv::KvBatch& batch) {
  if (event.aggregate().empty()) {
    return absl::DataLossError(
        absl::StrCat("interaction event ", event.event_id(), " has no aggregate"));
  }
  const std::string key = readmodel::org::InteractionTrackKey(event.aggregate());
  CRM_ASSIGN_OR_RETURN(crm::v1::Interaction before, Load<crm::v1::Interaction>(batch, key));
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();
  crm::v1::Interaction after = before;
  // The one reading of an interaction event, the domain's; the follow-up is derived from it.
  if (absl::Status applied = domain::interaction::Apply(after, event); !applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                            " cannot be applied: ", applied.message()));
  }
  CRM_RETURN_IF_ERROR(Replace(batch, event.aggregate(), OfFollowUp(before), OfFollowUp(after)));
  ReplaceQueue(batch, readmodel::org::QueueKeysOf(before), readmodel::org::QueueKeysOf(after));
  batch.Put(key, base::SerializeDeterministic(after));
  return absl::OkStatus();
}

}  // namespace

absl::Status OrgViewFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  if (domain::org::IsDepartmentEvent(event)) {
    return ApplyRecord<crm::v1::Department>(event, domain::org::kDepartmentPrefix,
                                            &readmodel::org::DepartmentKey,
                                            &domain::org::ApplyDepartment, batch);
  }
  if (domain::org::IsTeamEvent(event)) {
    return ApplyRecord<crm::v1::Team>(event, domain::org::kTeamPrefix, &readmodel::org::TeamKey,
                                      &domain::org::ApplyTeam, batch);
  }
  if (domain::org::IsStaffEvent(event)) {
    return ApplyRecord<crm::v1::Staff>(event, domain::org::kStaffPrefix, &readmodel::org::StaffKey,
                                       &domain::org::ApplyStaff, batch);
  }
  if (domain::improvement::IsImprovementEvent(event)) {
    return ApplyRecord<crm::v1::ImprovementAction>(
        event, domain::improvement::kImprovementActionPrefix, &readmodel::org::ImprovementActionKey,
        &domain::improvement::Apply, batch);
  }
  // A merged customer leaves its owner's workload (its survivor counts for the survivor's owner).
  if (event.has_owner_assigned() || event.has_owner_unassigned() ||
      event.has_customer_merged_into()) {
    if (event.customer_id().empty()) {
      return absl::DataLossError(absl::StrCat(event.event_type(), " without a customer id"));
    }
    return ApplyOwner(event, batch);
  }
  if (domain::complaint::IsComplaintEvent(event)) return ApplyComplaint(event, batch);
  if (domain::interaction::IsInteractionEvent(event)) {
    return ApplyInteraction(event, batch);
  }
  return absl::OkStatus();  // another area's event
}

}  // namespace crm::projections::org
