// Conversions between the API (crm.v1) and the event contract (crm.events.v1) for the
// organisation: departments, teams and staff as recorded, and the org enums. The one place where
// org events are built from API types (Decide*) and read back (Apply*, views).
//
// ToEvent drops the output-only fields (version, etag, times), which events never record. Enums
// convert by number (see domain/common/event_codec.h). Thread-safe: pure functions.
#pragma once

#include "crm/events/v1/org_events.pb.h"
#include "crm/v1/org.pb.h"
#include "domain/common/event_codec.h"

namespace crm::domain::org {

using crm::domain::ToApi;
using crm::domain::ToEvent;

crm::events::v1::DepartmentProfile ToEvent(const crm::v1::Department& department);
crm::v1::Department ToApi(const crm::events::v1::DepartmentProfile& department);

crm::events::v1::TeamProfile ToEvent(const crm::v1::Team& team);
crm::v1::Team ToApi(const crm::events::v1::TeamProfile& team);

crm::events::v1::StaffProfile ToEvent(const crm::v1::Staff& staff);
crm::v1::Staff ToApi(const crm::events::v1::StaffProfile& staff);

crm::events::v1::DepartmentFunction ToEvent(crm::v1::DepartmentFunction function);
crm::v1::DepartmentFunction ToApi(crm::events::v1::DepartmentFunction function);

crm::events::v1::StaffRole ToEvent(crm::v1::StaffRole role);
crm::v1::StaffRole ToApi(crm::events::v1::StaffRole role);

crm::events::v1::StaffLevel ToEvent(crm::v1::StaffLevel level);
crm::v1::StaffLevel ToApi(crm::events::v1::StaffLevel level);

}  // namespace crm::domain::org
