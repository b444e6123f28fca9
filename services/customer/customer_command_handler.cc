#include "services/customer/customer_command_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "common/status/errors.h"
#include "domain/customer/validation.h"
#include "domain/org/org_rules.h"
#include "services/command/command_executor.h"
#include "services/customer/customer_kind.h"

namespace crm::services::customer {

std::string CustomerIdFor(const crm::v1::RegisterCustomerRequest& request) {
  if (!request.customer_id().empty()) return request.customer_id();
  if (!request.request_id().empty()) {
    return base::UuidFromName(absl::StrCat("crm.v1.RegisterCustomer/", request.request_id()));
  }
  return base::NewUuid();
}

CustomerCommandHandler::CustomerCommandHandler(command::CommandExecutor* executor,
                                               EmailReservations* reservations, Options options)
    : executor_(executor), reservations_(reservations), options_(std::move(options)) {}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Execute(
    const std::string& customer_id, const std::string& request_id, const rpc::CallContext& call,
    const DecideFn& decide) {
  const command::Target target{.stream_key = customer_id,
                               .customer_id = customer_id,
                               .aggregate = domain::customer::CustomerName(customer_id)};
  // The executor reads `bounded.deadline` when it appends, after `decide` ran: a command that
  // uses e-mail claims must be recorded while they are usable (see email_reservation.h).
  rpc::CallContext bounded = call;
  absl::Status claim_error;
  CRM_ASSIGN_OR_RETURN(
      auto result,
      executor_->Execute<crm::v1::Customer>(
          target, request_id, bounded, CustomerKind(),
          [&](const crm::v1::Customer& current, int64_t,
              absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
            domain::customer::DecideContext context;
            context.now = now;
            context.email_owner = [&](absl::string_view email) -> std::optional<std::string> {
              if (!claim_error.ok()) return std::nullopt;
              EmailReservations::Request claim;
              claim.set_email(std::string(email));
              claim.set_customer_id(customer_id);
              absl::StatusOr<EmailReservations::Response> claimed =
                  reservations_->Claim(claim, call);
              if (!claimed.ok()) {
                claim_error = claimed.status();
                return std::nullopt;
              }
              if (claimed->holder() != customer_id) return claimed->holder();
              // The lease is on the command clock; the append deadline on the real one.
              const absl::Duration left = absl::FromUnixMicros(claimed->lease_until_micros()) - now;
              bounded.deadline = std::min(bounded.deadline, absl::Now() + left);
              return customer_id;
            };
            absl::StatusOr<domain::customer::Events> decided = decide(current, context);
            if (!claim_error.ok()) return claim_error;
            if (decided.ok() && !decided->empty() && absl::Now() >= bounded.deadline) {
              return status::Error(absl::StatusCode::kUnavailable,
                                   "the e-mail claims of this command lapsed before it could be "
                                   "recorded; retry",
                                   "EMAIL_CLAIM_LAPSED");
            }
            return decided;
          }));
  Response response;
  *response.mutable_customer() = std::move(result.state);
  response.set_consistency_token(std::move(result.consistency_token));
  response.set_appended_event_count(result.appended_event_count);
  return response;
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::ExecuteOnName(
    const std::string& name, const std::string& request_id, const rpc::CallContext& call,
    const DecideFn& decide) {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(name, "name"));
  return Execute(id, request_id, call, decide);
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Register(
    const crm::v1::RegisterCustomerRequest& request, const rpc::CallContext& call) {
  const std::string id = CustomerIdFor(request);
  return Execute(id, request.request_id(), call, [&](const auto& state, const auto& context) {
    return domain::customer::DecideRegister(state, request, id, context);
  });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Update(
    const crm::v1::UpdateCustomerRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(
                                           request.customer().name(), "customer.name"));
  return Execute(id, request.request_id(), call, [&](const auto& state, const auto& context) {
    return domain::customer::DecideUpdate(state, request, context);
  });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::ChangeLifecycleStage(
    const crm::v1::ChangeLifecycleStageRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(
      request.name(), request.request_id(), call, [&](const auto& state, const auto& context) {
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
  return ExecuteOnName(checked.name(), checked.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideAssignOwner(state, checked, context);
                       });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Tag(
    const crm::v1::TagCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideTag(state, request, context);
                       });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::Untag(
    const crm::v1::UntagCustomerRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideUntag(state, request, context);
                       });
}

absl::StatusOr<CustomerCommandHandler::Response> CustomerCommandHandler::RecordPurchase(
    const crm::v1::RecordPurchaseRequest& request, const rpc::CallContext& call) {
  return ExecuteOnName(request.name(), request.request_id(), call,
                       [&](const auto& state, const auto& context) {
                         return domain::customer::DecideRecordPurchase(state, request, context);
                       });
}

}  // namespace crm::services::customer
