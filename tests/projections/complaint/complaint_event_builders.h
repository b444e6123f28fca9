// Builders of complaint event envelopes for the complaint view tests (projection, read model,
// query service): stamped as the command side would stamp them, times from a fixed base.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/complaint/event_codec.h"

namespace crm::testing::complaint {

using crm::domain::complaint::ToEvent;
using crm::events::v1::EventEnvelope;

// Base of the test times: 2023-11-14T22:13:20Z (FakeClock's default start).
inline absl::Time T0() { return absl::FromUnixSeconds(1'700'000'000); }

inline google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(absl::ToUnixSeconds(t)))));
  return ts;
}

inline std::string ComplaintName(absl::string_view customer, absl::string_view id) {
  return absl::StrCat("customers/", customer, "/complaints/", id);
}

// Stamps `e` as event `version` of complaint `name`, recorded (and occurred) at `at`.
inline EventEnvelope Stamp(const std::string& name, int64_t version, absl::Time at,
                           EventEnvelope e) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  e.set_event_id(absl::StrCat(name, "#", version));
  e.set_customer_id(parts.size() > 1 ? parts[1] : "");
  e.set_aggregate(name);
  e.set_aggregate_version(version);
  *e.mutable_recorded_at() = Ts(at);
  *e.mutable_occurred_at() = Ts(at);
  e.set_schema_version(1);
  e.set_actor("test");
  return e;
}

inline crm::v1::StaffRef Staff(const std::string& id) {
  crm::v1::StaffRef ref;
  ref.set_staff_id(id);
  ref.set_team("teams/t1");
  ref.set_department("departments/service");
  return ref;
}

inline EventEnvelope Filed(crm::v1::ComplaintCategory category, crm::v1::ComplaintSeverity severity,
                           absl::Time response_due, absl::Time resolution_due) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintFiled");
  auto* f = e.mutable_complaint_filed();
  f->set_channel(crm::events::v1::PHONE);
  f->set_category(ToEvent(category));
  f->set_severity(ToEvent(severity));
  f->set_description("the parcel arrived broken");
  *f->mutable_response_due_time() = Ts(response_due);
  *f->mutable_resolution_due_time() = Ts(resolution_due);
  return e;
}

inline EventEnvelope Acknowledged(const std::string& staff) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintAcknowledged");
  *e.mutable_complaint_acknowledged()->mutable_responder() = ToEvent(Staff(staff));
  return e;
}

inline EventEnvelope Assigned(const std::string& staff, const std::string& previous = "") {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintAssigned");
  *e.mutable_complaint_assigned()->mutable_assignee() = ToEvent(Staff(staff));
  e.mutable_complaint_assigned()->set_previous_assignee(previous);
  return e;
}

inline EventEnvelope InvestigationStarted(const std::string& staff) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintInvestigationStarted");
  *e.mutable_complaint_investigation_started()->mutable_assignee() = ToEvent(Staff(staff));
  return e;
}

inline EventEnvelope Resolved(const std::string& staff, crm::v1::RootCause cause) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintResolved");
  auto* r = e.mutable_complaint_resolved();
  r->set_resolution("replacement sent");
  r->set_root_cause(ToEvent(cause));
  *r->mutable_resolver() = ToEvent(Staff(staff));
  return e;
}

inline EventEnvelope FollowUp(bool satisfied, int csat, const std::string& staff) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintFollowUpVisitRecorded");
  auto* f = e.mutable_complaint_follow_up_visit_recorded();
  f->mutable_visit()->set_satisfied(satisfied);
  f->mutable_visit()->set_csat(csat);
  f->mutable_visit()->set_comment(satisfied ? "fine now" : "still broken");
  *f->mutable_resolver() = ToEvent(Staff(staff));
  return e;
}

inline EventEnvelope Closed() {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintClosed");
  e.mutable_complaint_closed();
  return e;
}

inline EventEnvelope Reopened(absl::Time resolution_due) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintReopened");
  e.mutable_complaint_reopened()->set_reason("not satisfied");
  *e.mutable_complaint_reopened()->mutable_resolution_due_time() = Ts(resolution_due);
  return e;
}

inline EventEnvelope Escalated(int level, const std::string& from, const std::string& to) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintEscalated");
  auto* x = e.mutable_complaint_escalated();
  x->set_level(level);
  *x->mutable_from() = ToEvent(Staff(from));
  *x->mutable_to() = ToEvent(Staff(to));
  x->set_reason("by hand");
  return e;
}

inline EventEnvelope SlaBreached(crm::v1::SlaKind kind, absl::Time due,
                                 crm::v1::ComplaintSeverity severity) {
  EventEnvelope e;
  e.set_event_type("crm.events.v1.ComplaintSlaBreached");
  auto* b = e.mutable_complaint_sla_breached();
  b->set_kind(ToEvent(kind));
  *b->mutable_due_time() = Ts(due);
  b->set_severity(ToEvent(severity));
  return e;
}

}  // namespace crm::testing::complaint
