// ComplaintCommandHandler: executes the complaint commands through the shared CommandExecutor
// (locks, request-id dedup, stamping, append, waiting for the state fold; see
// services/command/command_executor.h) with the pure rules of domain/complaint.
//
// Before deciding it resolves what the rules need from other aggregates:
//   - the customer of FileComplaint (services/customer FindCustomer; NOT_FOUND if unknown, after
//     syncing the customer's stream once), and its value tier then, which with the severity
//     picks the deadlines (domain/complaint/sla_policy.h);
//   - the staff named by AssignComplaint / AcknowledgeComplaint (services/org StaffDirectory:
//     NOT_FOUND if unknown, FAILED_PRECONDITION if deactivated), stamped as crm.v1.StaffRef;
//   - for EscalateComplaint and BreachSla, inside the decision (it depends on the current holder):
//     the holder's next active manager up the reporting line.
// Complaint events are appended to the customer's stream (key: customer id).
//
// Thread-safe: commands on different complaints run in parallel.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/rpc/unary.h"
#include "crm/v1/complaint_service.pb.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/complaint/sla_policy.h"
#include "services/command/command_executor.h"
#include "services/org/staff_directory.h"

namespace crm::services::complaint {

class ComplaintCommandHandler {
 public:
  struct Options {
    // Deadlines of new and reopened complaints per severity and customer tier (the --sla-policy
    // flag, see ParseSlaPolicy).
    domain::complaint::SlaPolicy sla_policy;
  };

  // Does not take ownership. `executor` must run over an AggregateStateFold that includes
  // ComplaintKind(), the customer kind and the org kinds.
  ComplaintCommandHandler(command::CommandExecutor* executor, Options options);

  using Response = crm::v1::ComplaintCommandResponse;
  base::Future<Response> File(const crm::v1::FileComplaintRequest& request,
                              const rpc::CallContext& call);
  base::Future<Response> Acknowledge(const crm::v1::AcknowledgeComplaintRequest& request,
                                     const rpc::CallContext& call);
  base::Future<Response> Assign(const crm::v1::AssignComplaintRequest& request,
                                const rpc::CallContext& call);
  base::Future<Response> StartInvestigation(const crm::v1::StartInvestigationRequest& request,
                                            const rpc::CallContext& call);
  base::Future<Response> Resolve(const crm::v1::ResolveComplaintRequest& request,
                                 const rpc::CallContext& call);
  base::Future<Response> RecordFollowUpVisit(const crm::v1::RecordFollowUpVisitRequest& request,
                                             const rpc::CallContext& call);
  base::Future<Response> Close(const crm::v1::CloseComplaintRequest& request,
                               const rpc::CallContext& call);
  base::Future<Response> Reopen(const crm::v1::ReopenComplaintRequest& request,
                                const rpc::CallContext& call);
  base::Future<Response> Escalate(const crm::v1::EscalateComplaintRequest& request,
                                  const rpc::CallContext& call);

  // The system command of the SLA watcher: records the breach of `complaint`'s `kind` deadline
  // due at `due` and the automatic escalation, if that deadline is still open and has passed
  // (otherwise appends nothing). `request_id` makes it idempotent across retries and replicas.
  base::Future<Response> BreachSla(absl::string_view complaint, crm::v1::SlaKind kind,
                                   absl::Time due, const std::string& request_id,
                                   const rpc::CallContext& call);
  // The deadline watcher's reminder (SlaReminders): ComplaintDeadlineApproaching for `kind`'s
  // deadline due at `due`, if still open and due within `lead` (domain rule DecideRemindSla).
  base::Future<Response> RemindSla(absl::string_view complaint, crm::v1::SlaKind kind,
                                   absl::Time due, absl::Duration lead,
                                   const std::string& request_id, const rpc::CallContext& call);

  // The next active manager above staff `staff_id` (skipping deactivated ones), nullopt at the
  // top of the line. NOT_FOUND if `staff_id` is unknown (after syncing the org stream once).
  absl::StatusOr<std::optional<crm::v1::StaffRef>> ManagerOf(absl::string_view staff_id,
                                                             absl::Time deadline) const;

  const domain::complaint::SlaPolicy& sla_policy() const { return options_.sla_policy; }

 private:
  using Decide = std::function<absl::StatusOr<domain::complaint::Events>(
      const crm::v1::Complaint& current, const domain::complaint::DecideContext& context)>;
  // Runs `decide` on the complaint `name` (already validated).
  base::Future<Response> Execute(const std::string& name, const std::string& request_id,
                                 const rpc::CallContext& call, const Decide& decide);
  // The staff member `staff_id` ("" = nullopt) as a StaffRef with role.
  absl::StatusOr<domain::complaint::ResolvedStaff> FindStaff(absl::string_view staff_id,
                                                             absl::string_view field,
                                                             absl::Time deadline) const;
  domain::complaint::DecideContext Context(absl::Time now, absl::Time deadline) const;

  command::CommandExecutor* const executor_;
  const org::StaffDirectory staff_;
  const Options options_;
};

// The id a FileComplaint request files under: its complaint_id if set; else derived from its
// request_id (so a retry, on any replica, targets the same complaint); else a new UUID.
std::string ComplaintIdFor(const crm::v1::FileComplaintRequest& request);

// The customer id (stream key) in "customers/{cid}" or "customers/{cid}/complaints/{id}"; empty
// if malformed (the handler then rejects the request).
std::string CustomerIdOf(absl::string_view name);

}  // namespace crm::services::complaint
