// StaffDirectory: the command side's view of who is on the staff, for commands of other areas
// that name a person (a customer's owner, a complaint's assignee, an interaction's staff member).
// It reads the org's command state (aggregate "staff/<id>", folded by the org kinds into the
// AggregateState) and, when a person is not found, syncs the "org" stream once and looks again,
// so a staff member added a moment ago through another replica is found.
//
// Thread-safe: reads a thread-safe store.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/org.pb.h"
#include "services/access/org_authorizer.h"
#include "services/command/command_executor.h"

namespace crm::services::org {

class StaffDirectory {
 public:
  // Does not take ownership.
  explicit StaffDirectory(command::CommandExecutor* executor);

  // The staff member with bare id `staff_id`, syncing the org stream once if not found.
  // INVALID_ARGUMENT naming `field` if `staff_id` is empty; NOT_FOUND naming `field` (ErrorInfo
  // reason STAFF_NOT_FOUND) if unknown; FAILED_PRECONDITION naming `field` (reason
  // STAFF_INACTIVE) if deactivated; UNAVAILABLE if the sync does not finish by `deadline`.
  absl::StatusOr<crm::v1::Staff> Find(absl::string_view staff_id, absl::string_view field,
                                      absl::Time deadline) const;

  // The org chart as authorization reads it (services/access): the staff and teams of the
  // command state as they are now, without a sync.
  access::OrgDirectory Org() const;

  // The reference that events stamp: {staff_id, team, department} as the person has them now.
  static crm::v1::StaffRef RefOf(const crm::v1::Staff& staff);

 private:
  command::CommandExecutor* const executor_;
};

}  // namespace crm::services::org
