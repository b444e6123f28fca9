#include "services/customer/customer_command_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "domain/customer/validation.h"
#include "domain/org/org_rules.h"
#include "google/protobuf/util/time_util.h"
#include "services/command/command_executor.h"

namespace crm::services::customer {
namespace {

using crm::events::v1::EventEnvelope;
using google::protobuf::util::TimeUtil;

// Normalized e-mails a profile claims; unparsable ones are left to Decide to reject.
std::vector<std::string> ClaimedEmails(const crm::v1::Customer& customer) {
  std::vector<std::string> out;
  for (const auto& e : customer.emails()) {
    auto normalized = domain::customer::NormalizeEmail(e, "");
    if (normalized.ok()) out.push_back(*normalized);
  }
  return out;
}

}  // namespace

std::string CustomerIdFor(const crm::v1::RegisterCustomerRequest& request) {
  if (!request.customer_id().empty()) return request.customer_id();
  if (!request.request_id().empty()) {
    return base::UuidFromName(absl::StrCat("crm.v1.RegisterCustomer/", request.request_id()));
  }
  return base::NewUuid();
}

CustomerCommandHandler::CustomerCommandHandler(eventlog::EventLog* log,
                                               fold::FoldRunner* state_runner,
                                               const CommandState* state, const base::Clock* clock,
                                               Options options)
    : log_(log),
      state_runner_(state_runner),
      state_(state),
      clock_(clock),
      options_(std::move(options)) {}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Execute(
    const std::string& customer_id, const std::string& request_id,
    const std::vector<std::string>& claimed_emails, const rpc::CallContext& call,
    const DecideFn& decide) {
  std::vector<std::string> keys = {absl::StrCat("c:", customer_id)};
  if (!request_id.empty()) keys.push_back(absl::StrCat("r:", request_id));
  for (const auto& e : claimed_emails) keys.push_back(absl::StrCat("e:", e));
  command::LockTable::LockSet held = locks_.Lock(keys);

  bool unsettled;
  {
    absl::MutexLock lock(&unsettled_mu_);
    unsettled = unsettled_.contains(customer_id);
  }
  if (unsettled) CRM_RETURN_IF_ERROR(Resync(customer_id, call.deadline));

  if (!request_id.empty()) {
    CRM_ASSIGN_OR_RETURN(auto first_answer, state_->Request(request_id));
    if (first_answer.has_value()) return *first_answer;
  }
  CRM_ASSIGN_OR_RETURN(Response current, state_->Customer(customer_id));

  const absl::Time now = clock_->Now();
  domain::customer::DecideContext context;
  context.now = now;
  absl::Status lookup_error;
  context.email_owner = [&](absl::string_view email) -> std::optional<std::string> {
    auto owner = state_->EmailOwner(email);
    if (!owner.ok()) {
      lookup_error = owner.status();
      return std::nullopt;
    }
    return *owner;
  };
  absl::StatusOr<domain::customer::Events> decided = decide(current.customer(), context);
  CRM_RETURN_IF_ERROR(lookup_error);
  if (!decided.ok()) return decided.status();
  if (decided->empty()) return current;  // nothing changes: no event, same token

  // Stamp and check the events against the rules before they become facts.
  const std::string causation_id = base::NewUuid();
  const std::string correlation_id =
      call.correlation_id.empty() ? causation_id : call.correlation_id;
  Response after = current;
  std::vector<eventlog::AppendValue> values;
  int64_t version = current.customer().version();
  for (EventEnvelope& event : *decided) {
    event.set_event_id(base::NewUuid());
    event.set_customer_id(customer_id);
    event.set_aggregate(domain::customer::CustomerName(customer_id));
    event.set_aggregate_version(++version);
    *event.mutable_recorded_at() = base::ToTimestamp(now);
    if (!event.has_occurred_at()) *event.mutable_occurred_at() = event.recorded_at();
    event.set_actor(call.actor);
    event.set_request_id(request_id);
    event.set_correlation_id(correlation_id);
    event.set_causation_id(causation_id);
    event.set_event_type(domain::customer::EventTypeName(event));
    event.set_schema_version(1);
    absl::Status applied = domain::customer::Apply(*after.mutable_customer(), event);
    if (!applied.ok()) {
      return absl::InternalError(absl::StrCat("decided event does not apply: ", applied.message()));
    }
    values.push_back(
        {event.SerializeAsString(), command::EventHeaders(event, options_.event_source)});
  }

  absl::StatusOr<eventlog::LogPosition> appended =
      log_->Append(customer_id, std::move(values), call.deadline);
  if (!appended.ok()) {
    if (absl::IsInvalidArgument(appended.status())) return appended.status();
    {
      absl::MutexLock lock(&unsettled_mu_);
      unsettled_.insert(customer_id);
    }
    return status::Error(absl::StatusCode::kUnavailable,
                         absl::StrCat("the event log did not confirm the command; it may or may "
                                      "not be recorded: retry with the same request_id (",
                                      appended.status().message(), ")"),
                         "APPEND_NOT_CONFIRMED");
  }
  const eventlog::LogPosition position = *appended;
  after.set_consistency_token(
      eventlog::EncodeConsistencyToken({{position.partition, position.offset}}));
  after.set_appended_event_count(static_cast<int32_t>(decided->size()));

  // The next command on this customer must decide on these events: keep the locks until the
  // command state has them. The caller's deadline does not shorten this wait.
  absl::Status caught_up = state_runner_->WaitFor({{position.partition, position.offset}},
                                                  absl::Now() + options_.state_wait);
  if (!caught_up.ok()) {
    // The events are in the log but not in the state: the next command on this customer must
    // first wait for them, or it would decide on a stale version.
    {
      absl::MutexLock lock(&unsettled_mu_);
      unsettled_.insert(customer_id);
    }
    return status::Error(absl::StatusCode::kUnavailable,
                         absl::StrCat("the command was recorded but its state is not yet "
                                      "applied; retry with the same request_id: ",
                                      caught_up.message()),
                         "STATE_NOT_CAUGHT_UP");
  }
  return after;
}

absl::Status CustomerCommandHandler::Resync(const std::string& customer_id, absl::Time deadline) {
  CRM_RETURN_IF_ERROR(command::SyncStream(log_, state_runner_, customer_id, deadline));
  absl::MutexLock lock(&unsettled_mu_);
  unsettled_.erase(customer_id);
  return absl::OkStatus();
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::ExecuteOnName(
    const std::string& name, const std::string& request_id,
    const std::vector<std::string>& claimed_emails, const rpc::CallContext& call,
    const DecideFn& decide) {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(name, "name"));
  return Execute(id, request_id, claimed_emails, call, decide);
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Register(
    const crm::v1::RegisterCustomerRequest& request, const rpc::CallContext& call) {
  const std::string id = CustomerIdFor(request);
  return Execute(id, request.request_id(), ClaimedEmails(request.customer()), call,
                 [&](const auto& state, const auto& context) {
                   return domain::customer::DecideRegister(state, request, id, context);
                 });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Update(
    const crm::v1::UpdateCustomerRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(
                                           request.customer().name(), "customer.name"));
  return Execute(id, request.request_id(), ClaimedEmails(request.customer()), call,
                 [&](const auto& state, const auto& context) {
                   return domain::customer::DecideUpdate(state, request, context);
                 });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::ChangeLifecycleStage(
    const crm::v1::ChangeLifecycleStageRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(
      request.name(), request.request_id(), {}, call, [&](const auto& state, const auto& context) {
        return domain::customer::DecideChangeLifecycleStage(state, request, context);
      });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::AssignOwner(
    const crm::v1::AssignOwnerRequest& request, const rpc::CallContext& call) {
  crm::v1::AssignOwnerRequest checked = request;
  if (options_.staff != nullptr &&
      domain::customer::ValidateStaffId(request.owner(), "owner").ok()) {
    // The owner must be on the staff, in a role that owns customers; their team and department
    // come from the org, not from the caller.
    CRM_ASSIGN_OR_RETURN(crm::v1::Staff owner,
                         options_.staff->Find(request.owner(), "owner", call.deadline));
    if (!domain::org::MayOwnCustomers(owner.role())) {
      return status::Error(
          absl::StatusCode::kFailedPrecondition,
          absl::StrCat("staff member ", request.owner(), " is a ",
                       crm::v1::StaffRole_Name(owner.role()),
                       "; customers are owned by account managers, customer representatives, "
                       "supervisors and managers"),
          "STAFF_ROLE_NOT_ALLOWED", {{"owner", request.owner()}});
    }
    const crm::v1::StaffRef ref = org::StaffDirectory::RefOf(owner);
    checked.set_team(ref.team());
    checked.set_department(ref.department());
  }
  return ExecuteOnName(checked.name(), checked.request_id(), {}, call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideAssignOwner(state, checked, context);
                       });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Tag(
    const crm::v1::TagCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), {}, call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideTag(state, request, context);
                       });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Untag(
    const crm::v1::UntagCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), {}, call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideUntag(state, request, context);
                       });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::RecordPurchase(
    const crm::v1::RecordPurchaseRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), {}, call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideRecordPurchase(state, request, context);
                       });
}

}  // namespace crm::services::customer
