// Conversions between the API (crm.v1) and the event contract (crm.events.v1) for the complaint
// area: the follow-up visit and the complaint enums (StaffRef and Channel: domain/common). The
// one place where complaint events are built from API types (Decide*) and read back (Apply,
// views). Enums convert by number (see domain/common/event_codec.h). Thread-safe: pure
// functions.
#pragma once

#include "crm/events/v1/complaint_events.pb.h"
#include "crm/v1/complaint.pb.h"
#include "domain/common/event_codec.h"

namespace crm::domain::complaint {

using crm::domain::ToApi;
using crm::domain::ToEvent;

crm::events::v1::FollowUpVisit ToEvent(const crm::v1::FollowUpVisit& visit);
crm::v1::FollowUpVisit ToApi(const crm::events::v1::FollowUpVisit& visit);

crm::events::v1::ComplaintCategory ToEvent(crm::v1::ComplaintCategory category);
crm::v1::ComplaintCategory ToApi(crm::events::v1::ComplaintCategory category);

crm::events::v1::ComplaintSeverity ToEvent(crm::v1::ComplaintSeverity severity);
crm::v1::ComplaintSeverity ToApi(crm::events::v1::ComplaintSeverity severity);

crm::events::v1::RootCause ToEvent(crm::v1::RootCause cause);
crm::v1::RootCause ToApi(crm::events::v1::RootCause cause);

crm::events::v1::SlaKind ToEvent(crm::v1::SlaKind kind);
crm::v1::SlaKind ToApi(crm::events::v1::SlaKind kind);

}  // namespace crm::domain::complaint
