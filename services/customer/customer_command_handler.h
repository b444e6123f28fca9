// CustomerCommandHandler: executes customer commands. For each command it
//   1. locks the customer, the request id and any e-mail the command claims (LockTable);
//   2. returns the stored first answer if the request id was seen (AIP-155);
//   3. runs the pure Decide* rule against the command state;
//   4. stamps the events (ids, versions, times, actor, correlation) and appends them durably;
//   5. waits until the command-state fold has applied them, so the next command sees them,
//      then answers with the new state and the consistency token of the last event.
// An append that fails leaves the outcome unknown to the caller (UNAVAILABLE): a retry with the
// same request id returns the first answer if the events did land. The customer is then marked
// unsettled: its next command first waits for the outcome to be final and for the command state
// to have read the partition to its end, so no decision is made on state that misses an event.
//
// Thread-safe: commands on different customers run in parallel.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/unary.h"
#include "crm/v1/customer_service.pb.h"
#include "domain/customer/customer_aggregate.h"
#include "services/command/lock_table.h"
#include "services/customer/command_state.h"
#include "services/org/staff_directory.h"

namespace crm::services::customer {

class CustomerCommandHandler {
 public:
  struct Options {
    // The CloudEvents "source" of our events.
    std::string event_source = "crm/customer-command";
    // How long a command waits for its own events to reach the command state.
    absl::Duration state_wait = absl::Seconds(30);
    // Who may own customers: AssignOwner requires a known, active staff member whose role may
    // own customers, and stamps their team and department. Null (unit tests of other rules
    // only): owners are not checked against the org.
    const org::StaffDirectory* staff = nullptr;
  };

  // Does not take ownership. `state_runner` folds `log` into the store `state` reads.
  CustomerCommandHandler(eventlog::EventLog* log, fold::FoldRunner* state_runner,
                         const CommandState* state, const base::Clock* clock, Options options);

  using Response = crm::v1::CustomerCommandResponse;
  absl::StatusOr<Response> Register(const crm::v1::RegisterCustomerRequest& request,
                                    const rpc::CallContext& call);
  absl::StatusOr<Response> Update(const crm::v1::UpdateCustomerRequest& request,
                                  const rpc::CallContext& call);
  absl::StatusOr<Response> ChangeLifecycleStage(const crm::v1::ChangeLifecycleStageRequest& request,
                                                const rpc::CallContext& call);
  absl::StatusOr<Response> AssignOwner(const crm::v1::AssignOwnerRequest& request,
                                       const rpc::CallContext& call);
  absl::StatusOr<Response> Tag(const crm::v1::TagCustomerRequest& request,
                               const rpc::CallContext& call);
  absl::StatusOr<Response> Untag(const crm::v1::UntagCustomerRequest& request,
                                 const rpc::CallContext& call);
  absl::StatusOr<Response> RecordPurchase(const crm::v1::RecordPurchaseRequest& request,
                                          const rpc::CallContext& call);

 private:
  using DecideFn = std::function<absl::StatusOr<domain::customer::Events>(
      const domain::customer::State&, const domain::customer::DecideContext&)>;

  // Steps 1-5 above for the customer `customer_id`.
  absl::StatusOr<Response> Execute(const std::string& customer_id, const std::string& request_id,
                                   const std::vector<std::string>& claimed_emails,
                                   const rpc::CallContext& call, const DecideFn& decide);
  // Same, for commands that address the customer by resource name.
  absl::StatusOr<Response> ExecuteOnName(const std::string& name, const std::string& request_id,
                                         const std::vector<std::string>& claimed_emails,
                                         const rpc::CallContext& call, const DecideFn& decide);

  // Before deciding on a customer whose last append had an unknown outcome: wait until that
  // outcome is final and the command state has read the partition to its end.
  absl::Status Resync(const std::string& customer_id, absl::Time deadline);

  eventlog::EventLog* const log_;
  fold::FoldRunner* const state_runner_;
  const CommandState* const state_;
  const base::Clock* const clock_;
  const Options options_;
  command::LockTable locks_;
  absl::Mutex unsettled_mu_;
  absl::flat_hash_set<std::string> unsettled_ ABSL_GUARDED_BY(unsettled_mu_);
};

// The id a RegisterCustomer request registers under: its customer_id if set; else derived from
// its request_id (so a retry, on any replica, targets the same customer); else a new UUID.
std::string CustomerIdFor(const crm::v1::RegisterCustomerRequest& request);

}  // namespace crm::services::customer
