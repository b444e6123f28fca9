// The organisation's rules that other areas apply: which roles may own customers and which may
// handle complaints. The table is documented in proto/crm/v1/README.md ("The organisation").
// Thread-safe: pure functions.
#pragma once

#include "crm/v1/org.pb.h"

namespace crm::domain::org {

// Whether a staff member with `role` may be a customer's owner (Customer.owner):
// ACCOUNT_MANAGER, CUSTOMER_REPRESENTATIVE, SUPERVISOR, MANAGER.
bool MayOwnCustomers(crm::v1::StaffRole role);

// Whether a staff member with `role` may be assigned complaints: SERVICE_AGENT,
// CUSTOMER_REPRESENTATIVE, SUPERVISOR, MANAGER.
bool MayHandleComplaints(crm::v1::StaffRole role);

}  // namespace crm::domain::org
