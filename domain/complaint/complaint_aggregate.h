// The complaint aggregate (客户投诉管理): pure decide/apply functions.
//
//   Decide*(state, command, resolved lookups, context) -> the events the command produces,
//                                                         or why it is refused.
//   Apply(state, event)                                -> the state after the event.
//
// No I/O and no clock of their own: the time (`DecideContext::now`), the SLA policy, the
// resolved staff and the reporting line come in through the arguments, so every rule is
// unit-tested directly and folds are deterministic. services/complaint runs Decide in the
// command executor; the command-state fold and the complaint views both run Apply.
//
// State: a crm.v1.Complaint; version 0 (the default instance) means "does not exist". Decided
// events carry only their payload (and occurred_at for facts with a business time: a breach
// occurs at its due time, a visit at its visit time); the executor stamps the rest.
//
// The transition table, the SLA and escalation rules and the error codes are documented in
// proto/crm/v1/README.md ("Complaints"). Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status/etag.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/complaint.pb.h"
#include "crm/v1/complaint_service.pb.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/org.pb.h"
#include "domain/complaint/sla_policy.h"

namespace crm::domain::complaint {

using Event = crm::events::v1::EventEnvelope;
using Events = std::vector<Event>;
using State = crm::v1::Complaint;

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxDescription = 4000;
inline constexpr size_t kMaxResolution = 4000;
inline constexpr size_t kMaxVisitComment = 2000;
inline constexpr size_t kMaxReason = 500;
// How far after the command's time a follow-up visit may be dated: clock skew allowance.
inline constexpr absl::Duration kMaxVisitFutureSkew = absl::Minutes(5);
// How many managers up the reporting line an escalation looks for an active one.
inline constexpr int kMaxReportingLineDepth = 32;

// The commands of the transition table.
enum class Command {
  kFile,
  kAcknowledge,
  kAssign,
  kStartInvestigation,
  kResolve,
  kRecordFollowUpVisit,
  kClose,
  kReopen,
  kEscalate,
  // System command of the deadline watcher; allowed in every status while the deadline is open.
  kBreachSla,
};
inline constexpr Command kAllCommands[] = {Command::kFile,     Command::kAcknowledge,
                                           Command::kAssign,   Command::kStartInvestigation,
                                           Command::kResolve,  Command::kRecordFollowUpVisit,
                                           Command::kClose,    Command::kReopen,
                                           Command::kEscalate, Command::kBreachSla};

// The RPC name of a command, e.g. "ResolveComplaint"; "BreachSla" for the system command.
absl::string_view CommandName(Command command);

// The statuses in which the transition table allows `command` on an existing complaint, in
// enum order. Empty for kFile (only a complaint that does not exist yet).
std::vector<crm::v1::ComplaintStatus> AllowedStatuses(Command command);
bool IsAllowed(Command command, crm::v1::ComplaintStatus status);
// The status `command` leads to from `from` (the same status for commands that do not move it:
// reassignment during an investigation, escalation, a breach). REQUIRES IsAllowed(command, from),
// or kFile with COMPLAINT_STATUS_UNSPECIFIED.
crm::v1::ComplaintStatus StatusAfter(Command command, crm::v1::ComplaintStatus from);

// A staff member as the caller resolved them (services/org StaffDirectory): their StaffRef
// (staff id, team, department now) and role.
struct ResolvedStaff {
  crm::v1::StaffRef ref;
  crm::v1::StaffRole role = crm::v1::STAFF_ROLE_UNSPECIFIED;
};

// The next active person up the reporting line from a staff member: nullopt at the top.
// NOT_FOUND if the staff member is unknown.
using ManagerLookup =
    std::function<absl::StatusOr<std::optional<crm::v1::StaffRef>>(absl::string_view staff_id)>;

struct DecideContext {
  // The time the command is decided at (recorded_at of its events).
  absl::Time now;
  // Deadlines of FileComplaint and ReopenComplaint.
  SlaPolicy policy;
  // EscalateComplaint and BreachSla: who is above the current holder.
  ManagerLookup manager_of;
};

// The system command of the deadline watcher: `kind`'s deadline, due at `due_time`, passed.
struct BreachSla {
  crm::v1::SlaKind kind = crm::v1::SLA_KIND_UNSPECIFIED;
  absl::Time due_time;
};

// The system command of the deadline watcher's reminders: `kind`'s deadline, due at `due_time`,
// comes due within `lead`.
struct RemindSla {
  crm::v1::SlaKind kind = crm::v1::SLA_KIND_UNSPECIFIED;
  absl::Time due_time;
  absl::Duration lead;
};

// Request checks alone (INVALID_ARGUMENT naming every bad field), for callers that resolve
// staff or customers before deciding. Each Decide* runs them first as well.
absl::Status ValidateRequest(const crm::v1::FileComplaintRequest& request,
                             absl::string_view complaint_id);
absl::Status ValidateRequest(const crm::v1::AcknowledgeComplaintRequest& request);
absl::Status ValidateRequest(const crm::v1::AssignComplaintRequest& request);
absl::Status ValidateRequest(const crm::v1::StartInvestigationRequest& request);
absl::Status ValidateRequest(const crm::v1::ResolveComplaintRequest& request);
absl::Status ValidateRequest(const crm::v1::RecordFollowUpVisitRequest& request);
absl::Status ValidateRequest(const crm::v1::CloseComplaintRequest& request);
absl::Status ValidateRequest(const crm::v1::ReopenComplaintRequest& request);
absl::Status ValidateRequest(const crm::v1::EscalateComplaintRequest& request);

// Every Decide* checks, in this order: request fields (INVALID_ARGUMENT), existence (NOT_FOUND;
// for FileComplaint the customer NOT_FOUND, then ALREADY_EXISTS), the etag (ABORTED if stale),
// the transition table (FAILED_PRECONDITION "… is CLOSED; ResolveComplaint needs
// INVESTIGATING", reason TRANSITION_NOT_ALLOWED, metadata current_status), then the command's
// own rules (FAILED_PRECONDITION). A command that would change nothing returns no events.

// `complaint_id` is the id to file under (already chosen); `customer_exists` whether the parent
// customer is registered; `customer_tier` its value tier now: the deadlines are the policy's for
// the severity and that tier, and ComplaintFiled records the tier (a reopening's new deadline
// uses the recorded one).
absl::StatusOr<Events> DecideFile(
    const State& state, const crm::v1::FileComplaintRequest& request,
    absl::string_view complaint_id, bool customer_exists, const DecideContext& context,
    crm::v1::ValueTier customer_tier = crm::v1::VALUE_TIER_UNSPECIFIED);
// `responder`: the resolved request.responder, nullopt if none was given.
absl::StatusOr<Events> DecideAcknowledge(const State& state,
                                         const crm::v1::AcknowledgeComplaintRequest& request,
                                         const std::optional<crm::v1::StaffRef>& responder,
                                         const DecideContext& context);
// `assignee`: the resolved request.assignee. FAILED_PRECONDITION (ROLE_NOT_ALLOWED) if their
// role may not handle complaints (domain/org/org_rules.h MayHandleComplaints).
absl::StatusOr<Events> DecideAssign(const State& state,
                                    const crm::v1::AssignComplaintRequest& request,
                                    const ResolvedStaff& assignee, const DecideContext& context);
absl::StatusOr<Events> DecideStartInvestigation(const State& state,
                                                const crm::v1::StartInvestigationRequest& request,
                                                const DecideContext& context);
absl::StatusOr<Events> DecideResolve(const State& state,
                                     const crm::v1::ResolveComplaintRequest& request,
                                     const DecideContext& context);
absl::StatusOr<Events> DecideRecordFollowUpVisit(const State& state,
                                                 const crm::v1::RecordFollowUpVisitRequest& request,
                                                 const DecideContext& context);
absl::StatusOr<Events> DecideClose(const State& state,
                                   const crm::v1::CloseComplaintRequest& request,
                                   const DecideContext& context);
// FAILED_PRECONDITION (CUSTOMER_SATISFIED) if the follow-up visit found the customer satisfied.
absl::StatusOr<Events> DecideReopen(const State& state,
                                    const crm::v1::ReopenComplaintRequest& request,
                                    const DecideContext& context);
// FAILED_PRECONDITION (TOP_OF_REPORTING_LINE) if nobody is above the current holder.
absl::StatusOr<Events> DecideEscalate(const State& state,
                                      const crm::v1::EscalateComplaintRequest& request,
                                      const DecideContext& context);
// ComplaintSlaBreached (occurred_at = due time) then ComplaintEscalated (automatic) to the
// manager of the current holder (empty `to` if there is none or nobody above them). No events if
// the deadline is not (or no longer) open: met, already breached, replaced (a due_time that is
// not the current one), or not yet passed (now <= due_time). NOT_FOUND if the complaint does not
// exist; INVALID_ARGUMENT for an unknown kind.
absl::StatusOr<Events> DecideBreachSla(const State& state, const BreachSla& command,
                                       const DecideContext& context);
// ComplaintDeadlineApproaching (occurred_at = due time - lead) while the deadline is open, not yet
// reminded, due at `due_time` (the current one) and due within the lead but not yet passed
// (due - lead <= now <= due; a passed deadline gets its breach instead). No events otherwise, so
// running it again records nothing. NOT_FOUND if the complaint does not exist; INVALID_ARGUMENT
// for an unknown kind or a lead that is not positive.
absl::StatusOr<Events> DecideRemindSla(const State& state, const RemindSla& command,
                                       const DecideContext& context);

// Applies a stamped event. REQUIRES aggregate_version == state.version() + 1, a non-empty
// aggregate equal to state.name() once it exists, and ComplaintFiled first and only first
// (FAILED_PRECONDITION otherwise); DATA_LOSS for an envelope without a complaint payload. Sets
// name (= aggregate), version, etag, create_time (recorded_at of ComplaintFiled), update_time
// (recorded_at) and the payload's fields.
absl::Status Apply(State& state, const Event& event);

// Whether `event` carries a complaint payload (ComplaintFiled ... ComplaintSlaBreached,
// ComplaintDeadlineApproaching).
bool IsComplaintEvent(const Event& event);

// The open deadlines of a complaint (not met, not breached), response first.
std::vector<crm::v1::SlaDeadline> OpenDeadlines(const State& state);

// The AIP-154 etag of a version: "v<version>".
using crm::status::Etag;

// "customers/{customer_id}/complaints/{complaint_id}".
std::string ComplaintName(absl::string_view customer_id, absl::string_view complaint_id);
struct ComplaintNameParts {
  std::string customer_id;
  std::string complaint_id;
};
// The ids in a complaint name; INVALID_ARGUMENT naming `field` if malformed.
absl::StatusOr<ComplaintNameParts> ParseComplaintName(absl::string_view name,
                                                      absl::string_view field);
// 1 to 63 of [a-z0-9-], not starting or ending with "-"; INVALID_ARGUMENT naming `field`.
absl::Status ValidateComplaintId(absl::string_view id, absl::string_view field);

}  // namespace crm::domain::complaint
