// InteractionCommandHandler: executes the interaction commands on the shared command executor
// (services/command): locks, request-id deduplication (AIP-155), stamping, append and the wait
// for the command state all happen there; this class picks the target aggregate and supplies
// the pure decide functions of domain/interaction with their lookups:
//   - the customer (services/customer FindCustomer over the same state; NOT_FOUND if unknown),
//   - the staff member (services/org StaffDirectory: known and active, stamped as a StaffRef),
//   - the linked complaint (the complaint's AggregateState record).
// A lookup that finds nothing first syncs the stream it lives on (the customer's, or "org" for
// staff) and looks again, so an aggregate created a moment ago through another replica is seen.
//
// Thread-safe: commands on different interactions run in parallel.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/rpc/unary.h"
#include "crm/v1/interaction_service.pb.h"
#include "services/command/command_executor.h"
#include "services/customer/customer_kind.h"
#include "services/org/staff_directory.h"

namespace crm::services::interaction {

class InteractionCommandHandler {
 public:
  // Does not take ownership. `executor` decides against an AggregateState whose fold includes
  // InteractionKind(), the customer kind, the org kinds and the complaint kind.
  explicit InteractionCommandHandler(command::CommandExecutor* executor);

  using Response = crm::v1::InteractionCommandResponse;
  // Errors as documented in proto/crm/v1/README.md ("Interactions"), plus UNAVAILABLE from the
  // executor (retry with the same request_id).
  base::Future<Response> LogInteraction(const crm::v1::LogInteractionRequest& request,
                                        const rpc::CallContext& call);
  base::Future<Response> CompleteFollowUp(const crm::v1::CompleteFollowUpRequest& request,
                                          const rpc::CallContext& call);
  // The deadline watcher's reminder (FollowUpReminders): FollowUpDueSoon for interaction `name`'s
  // follow-up due at `due`, if still open and due within `lead` (domain rule
  // DecideRemindFollowUp).
  base::Future<Response> RemindFollowUp(absl::string_view name, absl::Time due, absl::Duration lead,
                                        const std::string& request_id,
                                        const rpc::CallContext& call);

 private:
  command::CommandExecutor* const executor_;
  const org::StaffDirectory staff_;
};

// The id a LogInteraction request logs under: its interaction_id if set; else derived from its
// request_id (so a retry, on any replica, targets the same interaction); else a new UUID.
std::string InteractionIdFor(const crm::v1::LogInteractionRequest& request);

}  // namespace crm::services::interaction
