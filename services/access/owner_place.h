// The team and department a customer shows: those its owner belongs to now, read from the org
// chart when the customer is read, never copied into the customer's events or view. One
// definition for the command side (command answers) and the query side (the customer queries),
// over the same OrgDirectory that authorization reads (org_authorizer.h), so the team a customer
// shows is the team whose supervisor reaches it (a supervisor reaches their team's customers).
// The customer's events keep the owner's place at assignment (OwnerAssigned): facts do not
// change when the owner moves; the views join them with the org chart as it is now.
//
// Thread-safe: a pure function over the directory.
#pragma once

#include <optional>

#include "crm/v1/customer.pb.h"
#include "services/access/org_authorizer.h"

namespace crm::services::access {

// Sets customer.team/department to its owner's now. No owner: both empty. An owner the directory
// does not know (or a lookup error, or no directory): those recorded at the assignment stay.
inline void FollowOwner(crm::v1::Customer& customer, const OrgDirectory& org) {
  if (customer.owner().empty()) {
    customer.clear_team();
    customer.clear_department();
    return;
  }
  if (!org.staff) return;
  absl::StatusOr<std::optional<crm::v1::Staff>> owner = org.staff(customer.owner());
  if (!owner.ok() || !owner->has_value()) return;
  customer.set_team((*owner)->team());
  customer.set_department((*owner)->department());
}

}  // namespace crm::services::access
