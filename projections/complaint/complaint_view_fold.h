// ComplaintViewFold: folds complaint events (crm.events.v1.Complaint*) into the complaint views
// (layout in readmodel/complaint/view_keys.h, all keys under "cp/"): the complaint record, its
// history, the list indexes (status, assignee, category, severity), the open deadlines by due
// time and the breached-and-unresolved set that overdue queries read.
//
// The record is built from the events alone (ApplyComplaintEvent below), independent of the
// command side's domain code, and kept in step with the envelope: version = aggregate_version,
// etag "v<version>", create_time = first recorded_at, update_time = last recorded_at.
//
// Idempotent: an event whose aggregate_version the record already has is skipped, so redelivery
// changes nothing. Any other event is DATA_LOSS (the runner dead-letters it) if it cannot be
// decoded, has no complaint name, or does not follow the record's version by exactly one.
// Events of other kinds are ignored (no write). Deterministic: the views depend only on the
// events, so a rebuild from position zero reproduces them byte for byte.
// Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include "absl/status/status.h"
#include "common/fold/fold_runner.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/complaint.pb.h"

namespace crm::projections::complaint {

// Whether `event` is a complaint event (its payload is one of the Complaint* messages).
bool IsComplaintEvent(const crm::events::v1::EventEnvelope& event);

// Applies one complaint event to the view of its complaint. Status follows the event type:
// Filed FILED, Acknowledged ACKNOWLEDGED, Assigned ASSIGNED (a reassignment keeps the status
// unless it was FILED, ACKNOWLEDGED or REOPENED), InvestigationStarted INVESTIGATING, Resolved
// RESOLVED, FollowUpVisitRecorded FOLLOWED_UP, Closed CLOSED, Reopened REOPENED; Escalated and
// SlaBreached keep it. Acknowledged meets the response deadline, Resolved the resolution
// deadline; Reopened sets a new resolution deadline and clears the resolution; SlaBreached marks
// the deadline of its kind (with that due time) breached.
// INVALID_ARGUMENT if the event is not the complaint's next (aggregate_version != version + 1),
// if the first event is not ComplaintFiled, or if it is not a complaint event.
absl::Status ApplyComplaintEvent(crm::v1::Complaint& view,
                                 const crm::events::v1::EventEnvelope& event);

class ComplaintViewFold final : public fold::Fold {
 public:
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::complaint
