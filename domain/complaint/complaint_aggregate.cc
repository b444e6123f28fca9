#include "domain/complaint/complaint_aggregate.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "common/status/violations.h"
#include "domain/common/event_types.h"
#include "domain/common/field_checks.h"
#include "domain/complaint/event_codec.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/event_codec.h"
#include "domain/org/org_rules.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace crm::domain::complaint {
namespace {

using crm::v1::ComplaintStatus;
using crm::v1::SlaDeadline;
using crm::v1::SlaKind;
using crm::v1::StaffRef;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

using crm::status::Violations;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

// When the fact of an event happened: occurred_at, else recorded_at.
const Timestamp& When(const Event& event) {
  return event.has_occurred_at() ? event.occurred_at() : event.recorded_at();
}

std::string StatusName(ComplaintStatus status) {
  const std::string& name = crm::v1::ComplaintStatus_Name(status);
  return name.empty() ? absl::StrCat(static_cast<int>(status)) : name;
}

bool SameRef(const StaffRef& a, const StaffRef& b) {
  return a.staff_id() == b.staff_id() && a.team() == b.team() && a.department() == b.department();
}

absl::Status NotFound(absl::string_view name) {
  return crm::status::ResourceNotFound(crm::v1::Complaint::descriptor()->full_name(), name,
                                       "COMPLAINT_NOT_FOUND", {{"complaint", std::string(name)}});
}

// The common head of the commands on an existing complaint: request_id, name and etag shape
// (collected in `v`).
struct Target {
  std::string name;
  std::optional<int64_t> etag_version;
};

Target CheckTarget(absl::string_view name, absl::string_view request_id, absl::string_view etag,
                   Violations& v) {
  Target target;
  v.Add(crm::domain::ValidateRequestId(request_id, "request_id"));
  auto parts = ParseComplaintName(name, "name");
  if (v.Check(parts)) target.name = ComplaintName(parts->customer_id, parts->complaint_id);
  if (!etag.empty()) {
    auto version = crm::status::ParseEtag(etag, "etag", "Complaint.etag");
    if (v.Check(version)) target.etag_version = *version;
  }
  return target;
}

// Existence and etag, after the request fields are known to be valid.
absl::Status CheckState(const State& state, const Target& target) {
  if (state.version() == 0) return NotFound(target.name);
  if (target.etag_version.has_value() && *target.etag_version != state.version()) {
    return crm::status::StaleEtag(target.name, "complaint", *target.etag_version, state.version());
  }
  return absl::OkStatus();
}

// The transition table's verdict on `command` in the complaint's status.
absl::Status CheckTransition(const State& state, Command command, absl::string_view name) {
  if (IsAllowed(command, state.status())) return absl::OkStatus();
  std::vector<std::string> allowed;
  for (ComplaintStatus s : AllowedStatuses(command)) allowed.push_back(StatusName(s));
  std::string needs;
  if (allowed.size() == 1) {
    needs = allowed[0];
  } else if (!allowed.empty()) {
    needs = absl::StrCat(
        absl::StrJoin(std::vector<std::string>(allowed.begin(), allowed.end() - 1), ", "), " or ",
        allowed.back());
  }
  const std::string current = StatusName(state.status());
  return crm::status::Error(
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat(name, " is ", current, "; ", CommandName(command), " needs ", needs),
      "TRANSITION_NOT_ALLOWED",
      {{"complaint", std::string(name)},
       {"current_status", current},
       {"command", std::string(CommandName(command))},
       {"allowed_statuses", absl::StrJoin(allowed, ",")}});
}

const SlaDeadline& DeadlineOf(const State& state, SlaKind kind) {
  return kind == crm::v1::RESPONSE ? state.response_deadline() : state.resolution_deadline();
}
SlaDeadline* MutableDeadlineOf(State& state, SlaKind kind) {
  return kind == crm::v1::RESPONSE ? state.mutable_response_deadline()
                                   : state.mutable_resolution_deadline();
}

bool IsOpen(const SlaDeadline& d) { return d.has_due_time() && !d.has_met_time() && !d.breached(); }

Event BreachEvent(const State& state, SlaKind kind) {
  const SlaDeadline& deadline = DeadlineOf(state, kind);
  Event event;
  *event.mutable_occurred_at() = deadline.due_time();
  auto* breached = event.mutable_complaint_sla_breached();
  breached->set_kind(ToEvent(kind));
  *breached->mutable_due_time() = deadline.due_time();
  breached->set_severity(ToEvent(state.severity()));
  if (!state.assignee().staff_id().empty()) {
    *breached->mutable_assignee() = ToEvent(state.assignee());
  }
  return event;
}

// A step done after its open deadline passed records the breach first, so that every missed
// deadline has exactly one ComplaintSlaBreached even if the watcher had not come round yet.
void AddLateBreach(const State& state, SlaKind kind, absl::Time now, Events& out) {
  const SlaDeadline& deadline = DeadlineOf(state, kind);
  if (IsOpen(deadline) && now > base::ToTime(deadline.due_time())) {
    out.push_back(BreachEvent(state, kind));
  }
}

// Who holds the complaint for escalation: the last escalation target, else the assignee.
StaffRef Holder(const State& state) {
  if (!state.escalated_to().staff_id().empty()) return state.escalated_to();
  return state.assignee();
}

absl::Status NeedLookup(const DecideContext& context) {
  if (context.manager_of) return absl::OkStatus();
  return crm::status::Error(absl::StatusCode::kInternal,
                            "DecideContext.manager_of is required to escalate", "INTERNAL");
}

void CheckReason(absl::string_view reason, Violations& v) {
  v.Add(crm::domain::ValidateText(reason, kMaxReason, /*required=*/false, "reason"));
}

Events One(Event event) {
  Events out;
  out.push_back(std::move(event));
  return out;
}

template <typename Request>
Target TargetOf(const Request& request, Violations& v) {
  return CheckTarget(request.name(), request.request_id(), request.etag(), v);
}

// The checks every command on an existing complaint makes after its fields: existence, etag,
// the transition table.
template <typename Request>
absl::Status CheckExisting(const State& state, const Request& request, Command command) {
  Violations v;
  const Target target = TargetOf(request, v);
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;
  if (absl::Status status = CheckState(state, target); !status.ok()) return status;
  return CheckTransition(state, command, target.name);
}

void CheckVisitFields(const crm::v1::RecordFollowUpVisitRequest& request, Violations& v) {
  if (!request.has_visit()) {
    v.Add("visit", "is required");
    return;
  }
  const crm::v1::FollowUpVisit& visit = request.visit();
  if (visit.csat() < 1 || visit.csat() > 5) v.Add("visit.csat", "must be 1 to 5");
  v.Add(crm::domain::ValidateText(visit.comment(), kMaxVisitComment, /*required=*/false,
                                  "visit.comment"));
  if (visit.has_visit_time() && !base::IsValidTimestamp(visit.visit_time())) {
    v.Add("visit.visit_time", "is not a valid timestamp");
  }
}

}  // namespace

absl::string_view CommandName(Command command) {
  switch (command) {
    case Command::kFile:
      return "FileComplaint";
    case Command::kAcknowledge:
      return "AcknowledgeComplaint";
    case Command::kAssign:
      return "AssignComplaint";
    case Command::kStartInvestigation:
      return "StartInvestigation";
    case Command::kResolve:
      return "ResolveComplaint";
    case Command::kRecordFollowUpVisit:
      return "RecordFollowUpVisit";
    case Command::kClose:
      return "CloseComplaint";
    case Command::kReopen:
      return "ReopenComplaint";
    case Command::kEscalate:
      return "EscalateComplaint";
    case Command::kBreachSla:
      return "BreachSla";
  }
  return "";
}

std::vector<ComplaintStatus> AllowedStatuses(Command command) {
  using namespace crm::v1;  // NOLINT: the status names read as the table.
  switch (command) {
    case Command::kFile:
      return {};
    case Command::kAcknowledge:
      return {FILED};
    case Command::kAssign:
      return {ACKNOWLEDGED, ASSIGNED, INVESTIGATING, REOPENED};
    case Command::kStartInvestigation:
      return {ASSIGNED, REOPENED};
    case Command::kResolve:
      return {INVESTIGATING};
    case Command::kRecordFollowUpVisit:
      return {RESOLVED};
    case Command::kClose:
      return {FOLLOWED_UP};
    case Command::kReopen:
      return {FOLLOWED_UP};
    case Command::kEscalate:
      return {ASSIGNED, INVESTIGATING, REOPENED};
    case Command::kBreachSla:
      return {FILED,    ACKNOWLEDGED, ASSIGNED, INVESTIGATING,
              RESOLVED, FOLLOWED_UP,  CLOSED,   REOPENED};
  }
  return {};
}

bool IsAllowed(Command command, ComplaintStatus status) {
  const std::vector<ComplaintStatus> allowed = AllowedStatuses(command);
  return std::find(allowed.begin(), allowed.end(), status) != allowed.end();
}

ComplaintStatus StatusAfter(Command command, ComplaintStatus from) {
  switch (command) {
    case Command::kFile:
      return crm::v1::FILED;
    case Command::kAcknowledge:
      return crm::v1::ACKNOWLEDGED;
    case Command::kAssign:
      return from == crm::v1::INVESTIGATING ? crm::v1::INVESTIGATING : crm::v1::ASSIGNED;
    case Command::kStartInvestigation:
      return crm::v1::INVESTIGATING;
    case Command::kResolve:
      return crm::v1::RESOLVED;
    case Command::kRecordFollowUpVisit:
      return crm::v1::FOLLOWED_UP;
    case Command::kClose:
      return crm::v1::CLOSED;
    case Command::kReopen:
      return crm::v1::REOPENED;
    case Command::kEscalate:
    case Command::kBreachSla:
      return from;
  }
  return from;
}

absl::Status ValidateRequest(const crm::v1::FileComplaintRequest& request,
                             absl::string_view complaint_id) {
  Violations v;
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  v.Check(customer::ParseCustomerName(request.parent(), "parent"));
  v.Add(ValidateComplaintId(complaint_id, "complaint_id"));
  const crm::v1::Complaint& in = request.complaint();
  if (in.channel() == crm::v1::CHANNEL_UNSPECIFIED) {
    v.Add("complaint.channel", "is required");
  } else if (!crm::v1::Channel_IsValid(in.channel())) {
    v.Add("complaint.channel", absl::StrCat("unknown value ", static_cast<int>(in.channel())));
  }
  if (in.category() == crm::v1::COMPLAINT_CATEGORY_UNSPECIFIED) {
    v.Add("complaint.category", "is required");
  } else if (!crm::v1::ComplaintCategory_IsValid(in.category())) {
    v.Add("complaint.category", absl::StrCat("unknown value ", static_cast<int>(in.category())));
  }
  if (in.severity() == crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED) {
    v.Add("complaint.severity", "is required: MINOR, GENERAL or SEVERE");
  } else if (!crm::v1::ComplaintSeverity_IsValid(in.severity())) {
    v.Add("complaint.severity", absl::StrCat("unknown value ", static_cast<int>(in.severity())));
  }
  v.Add(crm::domain::ValidateText(in.description(), kMaxDescription, /*required=*/true,
                                  "complaint.description"));
  // Fields other commands set, and output-only ones: rejected rather than silently dropped.
  if (in.status() != crm::v1::COMPLAINT_STATUS_UNSPECIFIED) {
    v.Add("complaint.status", "is output only");
  }
  if (in.has_assignee()) v.Add("complaint.assignee", "is set by AssignComplaint");
  if (in.escalation_level() != 0) v.Add("complaint.escalation_level", "is output only");
  if (in.has_escalated_to()) v.Add("complaint.escalated_to", "is output only");
  if (in.has_response_deadline()) {
    v.Add("complaint.response_deadline", "is output only: the SLA policy sets it");
  }
  if (in.has_resolution_deadline()) {
    v.Add("complaint.resolution_deadline", "is output only: the SLA policy sets it");
  }
  if (!in.resolution().empty()) v.Add("complaint.resolution", "is set by ResolveComplaint");
  if (in.root_cause() != crm::v1::ROOT_CAUSE_UNSPECIFIED) {
    v.Add("complaint.root_cause", "is set by ResolveComplaint");
  }
  if (in.has_resolve_time()) v.Add("complaint.resolve_time", "is output only");
  if (in.has_follow_up()) v.Add("complaint.follow_up", "is set by RecordFollowUpVisit");
  if (in.reopen_count() != 0) v.Add("complaint.reopen_count", "is output only");
  if (in.has_close_time()) v.Add("complaint.close_time", "is output only");
  if (in.version() != 0) v.Add("complaint.version", "is output only");
  if (!in.etag().empty()) v.Add("complaint.etag", "is output only");
  if (in.customer_tier() != crm::v1::VALUE_TIER_UNSPECIFIED) {
    v.Add("complaint.customer_tier", "is output only: the customer's value tier sets it");
  }
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::AcknowledgeComplaintRequest& request) {
  Violations v;
  TargetOf(request, v);
  if (!request.responder().empty()) {
    v.Add(crm::domain::ValidateStaffId(request.responder(), "responder"));
  }
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::AssignComplaintRequest& request) {
  Violations v;
  TargetOf(request, v);
  v.Add(crm::domain::ValidateStaffId(request.assignee(), "assignee"));
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::StartInvestigationRequest& request) {
  Violations v;
  TargetOf(request, v);
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::ResolveComplaintRequest& request) {
  Violations v;
  TargetOf(request, v);
  v.Add(crm::domain::ValidateText(request.resolution(), kMaxResolution, /*required=*/true,
                                  "resolution"));
  if (request.root_cause() == crm::v1::ROOT_CAUSE_UNSPECIFIED) {
    v.Add("root_cause", "is required");
  } else if (!crm::v1::RootCause_IsValid(request.root_cause())) {
    v.Add("root_cause", absl::StrCat("unknown value ", static_cast<int>(request.root_cause())));
  }
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::RecordFollowUpVisitRequest& request) {
  Violations v;
  TargetOf(request, v);
  CheckVisitFields(request, v);
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::CloseComplaintRequest& request) {
  Violations v;
  TargetOf(request, v);
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::ReopenComplaintRequest& request) {
  Violations v;
  TargetOf(request, v);
  CheckReason(request.reason(), v);
  return v.ToStatus();
}

absl::Status ValidateRequest(const crm::v1::EscalateComplaintRequest& request) {
  Violations v;
  TargetOf(request, v);
  CheckReason(request.reason(), v);
  return v.ToStatus();
}

absl::StatusOr<Events> DecideFile(const State& state, const crm::v1::FileComplaintRequest& request,
                                  absl::string_view complaint_id, bool customer_exists,
                                  const DecideContext& context, crm::v1::ValueTier customer_tier) {
  if (absl::Status status = ValidateRequest(request, complaint_id); !status.ok()) return status;
  if (!customer_exists) {
    return crm::status::ResourceNotFound("crm.v1.Customer", request.parent(), "CUSTOMER_NOT_FOUND",
                                         {{"customer", request.parent()}});
  }
  if (state.version() != 0) {
    const std::string name = absl::StrCat(request.parent(), "/complaints/", complaint_id);
    return crm::status::Error(absl::StatusCode::kAlreadyExists,
                              absl::StrCat(name, " already exists"), "COMPLAINT_ALREADY_EXISTS",
                              {{"complaint", name}});
  }
  const crm::v1::Complaint& in = request.complaint();
  // The tier counts as it is when the complaint is filed; it is recorded with the deadlines.
  const SlaTargets targets = context.policy.For(in.severity(), customer_tier);
  Event event;
  auto* filed = event.mutable_complaint_filed();
  filed->set_channel(ToEvent(in.channel()));
  filed->set_category(ToEvent(in.category()));
  filed->set_severity(ToEvent(in.severity()));
  filed->set_description(in.description());
  *filed->mutable_response_due_time() = base::ToTimestamp(context.now + targets.response);
  *filed->mutable_resolution_due_time() = base::ToTimestamp(context.now + targets.resolution);
  if (crm::v1::ValueTier_IsValid(customer_tier)) {
    filed->set_customer_tier(domain::customer::ToEvent(customer_tier));
  }
  return One(std::move(event));
}

absl::StatusOr<Events> DecideAcknowledge(const State& state,
                                         const crm::v1::AcknowledgeComplaintRequest& request,
                                         const std::optional<StaffRef>& responder,
                                         const DecideContext& context) {
  if (absl::Status status = ValidateRequest(request); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kAcknowledge); !status.ok()) {
    return status;
  }
  Events out;
  AddLateBreach(state, crm::v1::RESPONSE, context.now, out);
  Event event;
  auto* acknowledged = event.mutable_complaint_acknowledged();
  if (responder.has_value()) *acknowledged->mutable_responder() = ToEvent(*responder);
  out.push_back(std::move(event));
  return out;
}

absl::StatusOr<Events> DecideAssign(const State& state,
                                    const crm::v1::AssignComplaintRequest& request,
                                    const ResolvedStaff& assignee, const DecideContext& context) {
  if (absl::Status status = ValidateRequest(request); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kAssign); !status.ok()) {
    return status;
  }
  if (!org::MayHandleComplaints(assignee.role)) {
    const std::string role = crm::v1::StaffRole_Name(assignee.role);
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("staff ", assignee.ref.staff_id(), " is ",
                     role.empty() ? "of an unknown role" : role,
                     ", a role that may not handle complaints (SERVICE_AGENT, "
                     "CUSTOMER_REPRESENTATIVE, SUPERVISOR or MANAGER may)"),
        "ROLE_NOT_ALLOWED", {{"assignee", assignee.ref.staff_id()}, {"role", role}});
  }
  const bool keeps_status =
      state.status() == crm::v1::ASSIGNED || state.status() == crm::v1::INVESTIGATING;
  if (keeps_status && SameRef(state.assignee(), assignee.ref)) return Events();
  Event event;
  auto* assigned = event.mutable_complaint_assigned();
  *assigned->mutable_assignee() = ToEvent(assignee.ref);
  assigned->set_previous_assignee(state.assignee().staff_id());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideStartInvestigation(const State& state,
                                                const crm::v1::StartInvestigationRequest& request,
                                                const DecideContext& context) {
  if (absl::Status status = ValidateRequest(request); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kStartInvestigation);
      !status.ok()) {
    return status;
  }
  if (state.assignee().staff_id().empty()) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat(state.name(), " has no assignee; assign it first"),
                              "NO_ASSIGNEE", {{"complaint", state.name()}});
  }
  Event event;
  *event.mutable_complaint_investigation_started()->mutable_assignee() = ToEvent(state.assignee());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideResolve(const State& state,
                                     const crm::v1::ResolveComplaintRequest& request,
                                     const DecideContext& context) {
  if (absl::Status status = ValidateRequest(request); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kResolve); !status.ok()) {
    return status;
  }
  Events out;
  AddLateBreach(state, crm::v1::RESOLUTION, context.now, out);
  Event event;
  auto* resolved = event.mutable_complaint_resolved();
  resolved->set_resolution(request.resolution());
  resolved->set_root_cause(ToEvent(request.root_cause()));
  *resolved->mutable_resolver() = ToEvent(state.assignee());
  out.push_back(std::move(event));
  return out;
}

absl::StatusOr<Events> DecideRecordFollowUpVisit(const State& state,
                                                 const crm::v1::RecordFollowUpVisitRequest& request,
                                                 const DecideContext& context) {
  Violations v;
  TargetOf(request, v);
  CheckVisitFields(request, v);
  const absl::Time visit_time =
      request.visit().has_visit_time() && base::IsValidTimestamp(request.visit().visit_time())
          ? base::ToTime(request.visit().visit_time())
          : context.now;
  if (visit_time > context.now + kMaxVisitFutureSkew) {
    v.Add("visit.visit_time", "must not be in the future");
  }
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kRecordFollowUpVisit);
      !status.ok()) {
    return status;
  }
  if (state.has_resolve_time() && visit_time < base::ToTime(state.resolve_time())) {
    return crm::status::InvalidArgument("visit.visit_time",
                                        absl::StrCat("must not be before the resolution at ",
                                                     Rfc3339(base::ToTime(state.resolve_time()))));
  }
  Event event;
  *event.mutable_occurred_at() = base::ToTimestamp(visit_time);
  auto* recorded = event.mutable_complaint_follow_up_visit_recorded();
  *recorded->mutable_visit() = ToEvent(request.visit());
  *recorded->mutable_visit()->mutable_visit_time() = base::ToTimestamp(visit_time);
  *recorded->mutable_resolver() = ToEvent(state.assignee());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideClose(const State& state,
                                   const crm::v1::CloseComplaintRequest& request,
                                   const DecideContext& context) {
  if (absl::Status status = ValidateRequest(request); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kClose); !status.ok()) {
    return status;
  }
  Event event;
  event.mutable_complaint_closed();
  return One(std::move(event));
}

absl::StatusOr<Events> DecideReopen(const State& state,
                                    const crm::v1::ReopenComplaintRequest& request,
                                    const DecideContext& context) {
  if (absl::Status status = ValidateRequest(request); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kReopen); !status.ok()) {
    return status;
  }
  if (state.follow_up().satisfied()) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat(state.name(),
                     ": the follow-up visit found the customer satisfied; only a complaint whose "
                     "customer is not satisfied can be reopened (close it instead)"),
        "CUSTOMER_SATISFIED", {{"complaint", state.name()}});
  }
  Event event;
  auto* reopened = event.mutable_complaint_reopened();
  reopened->set_reason(request.reason());
  *reopened->mutable_resolution_due_time() = base::ToTimestamp(
      context.now + context.policy.For(state.severity(), state.customer_tier()).resolution);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideEscalate(const State& state,
                                      const crm::v1::EscalateComplaintRequest& request,
                                      const DecideContext& context) {
  if (absl::Status status = ValidateRequest(request); !status.ok()) return status;
  if (absl::Status status = CheckExisting(state, request, Command::kEscalate); !status.ok()) {
    return status;
  }
  if (absl::Status status = NeedLookup(context); !status.ok()) return status;
  const StaffRef from = Holder(state);
  if (from.staff_id().empty()) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat(state.name(), " has no assignee; assign it first"),
                              "NO_ASSIGNEE", {{"complaint", state.name()}});
  }
  absl::StatusOr<std::optional<StaffRef>> to = context.manager_of(from.staff_id());
  if (!to.ok()) return to.status();
  if (!to->has_value()) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat(state.name(), " is held by ", from.staff_id(),
                                           ", who has no active manager: nobody to escalate to"),
                              "TOP_OF_REPORTING_LINE",
                              {{"complaint", state.name()}, {"holder", from.staff_id()}});
  }
  Event event;
  auto* escalated = event.mutable_complaint_escalated();
  escalated->set_level(state.escalation_level() + 1);
  *escalated->mutable_from() = ToEvent(from);
  *escalated->mutable_to() = ToEvent(**to);
  escalated->set_reason(request.reason());
  escalated->set_automatic(false);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideBreachSla(const State& state, const BreachSla& command,
                                       const DecideContext& context) {
  if (command.kind != crm::v1::RESPONSE && command.kind != crm::v1::RESOLUTION) {
    return crm::status::InvalidArgument("kind", "must be RESPONSE or RESOLUTION");
  }
  if (state.version() == 0) return NotFound(state.name().empty() ? "complaint" : state.name());
  const SlaDeadline& deadline = DeadlineOf(state, command.kind);
  if (!IsOpen(deadline)) return Events();
  const absl::Time due = base::ToTime(deadline.due_time());
  if (due != command.due_time || context.now <= due) return Events();
  if (absl::Status status = NeedLookup(context); !status.ok()) return status;

  const StaffRef from = Holder(state);
  StaffRef to;
  if (!from.staff_id().empty()) {
    absl::StatusOr<std::optional<StaffRef>> manager = context.manager_of(from.staff_id());
    if (manager.ok()) {
      if (manager->has_value()) to = **manager;
    } else if (!absl::IsNotFound(manager.status())) {
      return manager.status();  // transient: the watcher retries
    }
  }
  Events out;
  out.push_back(BreachEvent(state, command.kind));
  Event event;
  auto* escalated = event.mutable_complaint_escalated();
  escalated->set_level(state.escalation_level() + 1);
  *escalated->mutable_from() = ToEvent(from);
  *escalated->mutable_to() = ToEvent(to);
  escalated->set_reason(
      absl::StrCat(crm::v1::SlaKind_Name(command.kind), " deadline ", Rfc3339(due), " passed"));
  escalated->set_automatic(true);
  escalated->set_sla_kind(ToEvent(command.kind));
  out.push_back(std::move(event));
  return out;
}

absl::StatusOr<Events> DecideRemindSla(const State& state, const RemindSla& command,
                                       const DecideContext& context) {
  if (command.kind != crm::v1::RESPONSE && command.kind != crm::v1::RESOLUTION) {
    return crm::status::InvalidArgument("kind", "must be RESPONSE or RESOLUTION");
  }
  if (command.lead <= absl::ZeroDuration()) {
    return crm::status::InvalidArgument("lead", "must be positive");
  }
  if (state.version() == 0) return NotFound(state.name().empty() ? "complaint" : state.name());
  const SlaDeadline& deadline = DeadlineOf(state, command.kind);
  if (!IsOpen(deadline) || deadline.reminded()) return Events();
  const absl::Time due = base::ToTime(deadline.due_time());
  if (due != command.due_time || context.now < due - command.lead || context.now > due) {
    return Events();
  }
  Event event;
  *event.mutable_occurred_at() = base::ToTimestamp(due - command.lead);
  auto* approaching = event.mutable_complaint_deadline_approaching();
  approaching->set_kind(ToEvent(command.kind));
  *approaching->mutable_due_time() = deadline.due_time();
  if (!state.assignee().staff_id().empty()) {
    *approaching->mutable_assignee() = ToEvent(state.assignee());
  }
  return One(std::move(event));
}

bool IsComplaintEvent(const Event& event) {
  switch (event.payload_case()) {
    case Event::kComplaintFiled:
    case Event::kComplaintAcknowledged:
    case Event::kComplaintAssigned:
    case Event::kComplaintInvestigationStarted:
    case Event::kComplaintResolved:
    case Event::kComplaintFollowUpVisitRecorded:
    case Event::kComplaintClosed:
    case Event::kComplaintReopened:
    case Event::kComplaintEscalated:
    case Event::kComplaintSlaBreached:
    case Event::kComplaintDeadlineApproaching:
      return true;
    default:
      // A type this build does not know belongs to the aggregate it names.
      return IsUnknownEventType(event) && ParseComplaintName(event.aggregate(), "aggregate").ok();
  }
}

absl::Status Apply(State& state, const Event& event) {
  if (!IsComplaintEvent(event)) {
    return crm::status::Error(
        absl::StatusCode::kDataLoss,
        absl::StrCat("event ", event.event_id(), " of ", event.aggregate(), " at version ",
                     event.aggregate_version(), " has no complaint payload"),
        "EVENT_WITHOUT_PAYLOAD",
        {{"event_id", event.event_id()}, {"aggregate", event.aggregate()}});
  }
  const std::string& name = event.aggregate();
  if (name.empty() || (state.version() != 0 && state.name() != name)) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event of \"", name, "\" applied to ",
                     state.name().empty() ? "a complaint not filed" : state.name()),
        "COMPLAINT_MISMATCH", {{"event_aggregate", name}, {"complaint", state.name()}});
  }
  if (event.aggregate_version() != state.version() + 1) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event version ", event.aggregate_version(), " applied to ", name,
                     " at version ", state.version(), "; expected ", state.version() + 1),
        "VERSION_MISMATCH",
        {{"complaint", name},
         {"event_version", absl::StrCat(event.aggregate_version())},
         {"state_version", absl::StrCat(state.version())}});
  }
  if (IsUnknownEventType(event)) {  // a newer writer's type: only the version moves
    state.set_version(event.aggregate_version());
    state.set_etag(Etag(state.version()));
    *state.mutable_update_time() = event.recorded_at();
    return absl::OkStatus();
  }
  const bool is_filing = event.has_complaint_filed();
  if (is_filing != (state.version() == 0)) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              is_filing ? absl::StrCat(name, " is filed twice")
                                        : absl::StrCat("the first event of ", name,
                                                       " is not crm.events.v1.ComplaintFiled"),
                              "EVENT_OUT_OF_ORDER", {{"complaint", name}});
  }

  switch (event.payload_case()) {
    case Event::kComplaintFiled: {
      const auto& filed = event.complaint_filed();
      state.set_channel(ToApi(filed.channel()));
      state.set_category(ToApi(filed.category()));
      state.set_severity(ToApi(filed.severity()));
      state.set_description(filed.description());
      state.set_customer_tier(domain::customer::ToApi(filed.customer_tier()));
      state.set_status(crm::v1::FILED);
      auto* response = state.mutable_response_deadline();
      response->set_kind(crm::v1::RESPONSE);
      *response->mutable_due_time() = filed.response_due_time();
      auto* resolution = state.mutable_resolution_deadline();
      resolution->set_kind(crm::v1::RESOLUTION);
      *resolution->mutable_due_time() = filed.resolution_due_time();
      *state.mutable_create_time() = event.recorded_at();
      break;
    }
    case Event::kComplaintAcknowledged:
      state.set_status(crm::v1::ACKNOWLEDGED);
      if (!state.response_deadline().has_met_time()) {
        *state.mutable_response_deadline()->mutable_met_time() = When(event);
      }
      break;
    case Event::kComplaintAssigned:
      *state.mutable_assignee() = ToApi(event.complaint_assigned().assignee());
      if (state.status() != crm::v1::INVESTIGATING) state.set_status(crm::v1::ASSIGNED);
      break;
    case Event::kComplaintInvestigationStarted:
      state.set_status(crm::v1::INVESTIGATING);
      break;
    case Event::kComplaintResolved: {
      const auto& resolved = event.complaint_resolved();
      state.set_status(crm::v1::RESOLVED);
      state.set_resolution(resolved.resolution());
      state.set_root_cause(ToApi(resolved.root_cause()));
      *state.mutable_resolve_time() = When(event);
      if (!state.resolution_deadline().has_met_time()) {
        *state.mutable_resolution_deadline()->mutable_met_time() = When(event);
      }
      break;
    }
    case Event::kComplaintFollowUpVisitRecorded: {
      state.set_status(crm::v1::FOLLOWED_UP);
      *state.mutable_follow_up() = ToApi(event.complaint_follow_up_visit_recorded().visit());
      if (!state.follow_up().has_visit_time()) {
        *state.mutable_follow_up()->mutable_visit_time() = When(event);
      }
      break;
    }
    case Event::kComplaintClosed:
      state.set_status(crm::v1::CLOSED);
      *state.mutable_close_time() = When(event);
      break;
    case Event::kComplaintReopened: {
      state.set_status(crm::v1::REOPENED);
      state.set_reopen_count(state.reopen_count() + 1);
      SlaDeadline* resolution = state.mutable_resolution_deadline();
      resolution->Clear();
      resolution->set_kind(crm::v1::RESOLUTION);
      *resolution->mutable_due_time() = event.complaint_reopened().resolution_due_time();
      break;
    }
    case Event::kComplaintEscalated: {
      const auto& escalated = event.complaint_escalated();
      state.set_escalation_level(escalated.level());
      if (!escalated.to().staff_id().empty()) *state.mutable_escalated_to() = ToApi(escalated.to());
      break;
    }
    case Event::kComplaintSlaBreached: {
      const auto& breached = event.complaint_sla_breached();
      const SlaKind kind = ToApi(breached.kind());
      if (kind == crm::v1::RESPONSE || kind == crm::v1::RESOLUTION) {
        SlaDeadline* deadline = MutableDeadlineOf(state, kind);
        // A breach of a deadline since replaced (by a reopening) changes nothing.
        if (google::protobuf::util::MessageDifferencer::Equals(deadline->due_time(),
                                                               breached.due_time())) {
          deadline->set_breached(true);
        }
      }
      break;
    }
    case Event::kComplaintDeadlineApproaching: {
      const auto& approaching = event.complaint_deadline_approaching();
      const SlaKind kind = ToApi(approaching.kind());
      if (kind == crm::v1::RESPONSE || kind == crm::v1::RESOLUTION) {
        SlaDeadline* deadline = MutableDeadlineOf(state, kind);
        if (google::protobuf::util::MessageDifferencer::Equals(deadline->due_time(),
                                                               approaching.due_time())) {
          deadline->set_reminded(true);
        }
      }
      break;
    }
    default:
      break;  // Rejected above.
  }

  state.set_name(name);
  state.set_version(event.aggregate_version());
  state.set_etag(Etag(state.version()));
  *state.mutable_update_time() = event.recorded_at();
  return absl::OkStatus();
}

std::vector<SlaDeadline> OpenDeadlines(const State& state) {
  std::vector<SlaDeadline> out;
  if (IsOpen(state.response_deadline())) out.push_back(state.response_deadline());
  if (IsOpen(state.resolution_deadline())) out.push_back(state.resolution_deadline());
  return out;
}

std::string ComplaintName(absl::string_view customer_id, absl::string_view complaint_id) {
  return absl::StrCat("customers/", customer_id, "/complaints/", complaint_id);
}

absl::StatusOr<ComplaintNameParts> ParseComplaintName(absl::string_view name,
                                                      absl::string_view field) {
  if (name.empty()) return crm::status::InvalidArgument(field, "is required");
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "customers" || parts[2] != "complaints" ||
      !crm::domain::ValidateCustomerId(parts[1], field).ok() ||
      !ValidateComplaintId(parts[3], field).ok()) {
    return crm::status::InvalidArgument(
        field,
        "must be customers/{customer_id}/complaints/{complaint_id} with ids of 1 to 63 of "
        "[a-z0-9-]");
  }
  return ComplaintNameParts{std::string(parts[1]), std::string(parts[3])};
}

absl::Status ValidateComplaintId(absl::string_view id, absl::string_view field) {
  return crm::domain::ValidateCustomerId(id, field);
}

}  // namespace crm::domain::complaint
