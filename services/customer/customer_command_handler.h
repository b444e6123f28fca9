// CustomerCommandHandler: customer commands on the shared command pipeline
// (services/command/command_executor.h: locks, request ids, stamping, append, state wait), with
// the customer aggregate's pure rules (domain/customer) and two lookups of their own:
//   - e-mails: each address a command sets is claimed first on its reservation aggregate
//     (services/customer/email_reservations.h), on whichever replica writes it, so an address
//     belongs to at most one customer across replicas; the append is then bounded by the claim's
//     lease;
//   - owners: AssignOwner requires a known, active staff member whose role may own customers and
//     records their team and department from the org (services/org/staff_directory.h); every
//     answer shows the team and department the owner has now (services/access/owner_place.h).
//
// Thread-safe: commands on different customers run in parallel.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/rpc/unary.h"
#include "crm/internal/v1/merge_service.pb.h"
#include "crm/v1/customer_service.pb.h"
#include "domain/customer/customer_aggregate.h"
#include "services/command/command_executor.h"
#include "services/command/command_router.h"
#include "services/customer/email_reservations.h"
#include "services/org/staff_directory.h"

namespace crm::services::customer {

class CustomerCommandHandler {
 public:
  struct Options {
    // Who may own customers. Null (unit tests of other rules only): owners are not checked
    // against the org.
    const org::StaffDirectory* staff = nullptr;
    // Who writes each customer's stream, and how to call the replica that does (a merge whose
    // merged customer another replica writes); null: every stream is written here (one
    // replica).
    command::CommandRouter* router = nullptr;
  };

  // Does not take ownership.
  CustomerCommandHandler(command::CommandExecutor* executor, EmailReservations* reservations,
                         Options options);

  using Response = crm::v1::CustomerCommandResponse;
  base::Future<Response> Register(const crm::v1::RegisterCustomerRequest& request,
                                  const rpc::CallContext& call);
  base::Future<Response> Update(const crm::v1::UpdateCustomerRequest& request,
                                const rpc::CallContext& call);
  base::Future<Response> ChangeLifecycleStage(const crm::v1::ChangeLifecycleStageRequest& request,
                                              const rpc::CallContext& call);
  base::Future<Response> AssignOwner(const crm::v1::AssignOwnerRequest& request,
                                     const rpc::CallContext& call);
  base::Future<Response> UnassignOwner(const crm::v1::UnassignOwnerRequest& request,
                                       const rpc::CallContext& call);
  base::Future<Response> Archive(const crm::v1::ArchiveCustomerRequest& request,
                                 const rpc::CallContext& call);
  base::Future<Response> Unarchive(const crm::v1::UnarchiveCustomerRequest& request,
                                   const rpc::CallContext& call);
  base::Future<Response> Tag(const crm::v1::TagCustomerRequest& request,
                             const rpc::CallContext& call);
  base::Future<Response> Untag(const crm::v1::UntagCustomerRequest& request,
                               const rpc::CallContext& call);
  base::Future<Response> RecordPurchase(const crm::v1::RecordPurchaseRequest& request,
                                        const rpc::CallContext& call);
  base::Future<Response> RefundPurchase(const crm::v1::RefundPurchaseRequest& request,
                                        const rpc::CallContext& call);
  // MergeCustomers: CustomerMergedInto on the merged customer, then CustomerMerged on the
  // survivor, both customers locked together (command::CommandExecutor::ExecuteLinked): a
  // command on either lands wholly before the merge (and what it did moves) or after (refused on
  // the merged customer, CUSTOMER_MERGED). Then the merged customer's e-mail reservations move
  // to the survivor (EmailClaimed; best effort, see proto/crm/v1/README.md). A merge interrupted
  // between its two events is completed by the next MergeCustomers of the pair (any request
  // id). Runs on the replica that writes the survivor; when another replica writes the merged
  // customer, that one records the merged customer's half (SealMerged, called with the survivor
  // locked here) and the survivor's half follows here: the same two events in the same order.
  base::Future<crm::v1::MergeCustomersResponse> Merge(const crm::v1::MergeCustomersRequest& request,
                                                      const rpc::CallContext& call);
  // crm.internal.v1.CustomerMergeService.SealMergedCustomer, on the replica that writes the
  // merged customer: decides the merge on the merged customer (locked) and the survivor (read to
  // the end of its stream; the calling replica holds its lock), appends the merged customer's
  // event, and answers it with what moves (interactions, complaints, purchases).
  base::Future<crm::internal::v1::SealMergedCustomerResponse> SealMerged(
      const crm::internal::v1::SealMergedCustomerRequest& request, const rpc::CallContext& call);

 private:
  using DecideFn = std::function<absl::StatusOr<domain::customer::Events>(
      const domain::customer::State&, const domain::customer::DecideContext&)>;

  // Runs `decide` on customer `customer_id` through the executor.
  base::Future<Response> Execute(const std::string& customer_id, const std::string& request_id,
                                 const rpc::CallContext& call, const DecideFn& decide);
  // Same, for commands that address the customer by resource name.
  base::Future<Response> ExecuteOnName(const std::string& name, const std::string& request_id,
                                       const rpc::CallContext& call, const DecideFn& decide);

  // Whether this replica writes `customer_id`'s stream.
  bool WritesHere(absl::string_view customer_id) const;

  command::CommandExecutor* const executor_;
  EmailReservations* const reservations_;
  const Options options_;
};

// The id a RegisterCustomer request registers under: its customer_id if set; else derived from
// its request_id (so a retry, on any replica, targets the same customer); else a new UUID.
std::string CustomerIdFor(const crm::v1::RegisterCustomerRequest& request);

}  // namespace crm::services::customer
