#include "services/customer/email_reservations.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/email_reservation.h"
#include "domain/customer/validation.h"
#include "services/customer/customer_kind.h"

namespace crm::services::customer {
namespace {

constexpr char kClaimMethod[] = "/crm.internal.v1.EmailReservationService/ClaimEmail";
constexpr char kReleaseMethod[] = "/crm.internal.v1.EmailReservationService/ReleaseEmail";

using domain::customer::ReservedKey;

ReservedKey KindOf(const EmailReservations::Request& request) {
  return request.external_id().empty() ? ReservedKey::kEmail : ReservedKey::kExternalId;
}

const std::string& KeyOf(const EmailReservations::Request& request) {
  return request.external_id().empty() ? request.email() : request.external_id();
}

std::string StreamOf(const EmailReservations::Request& request) {  // the routing key too
  return domain::customer::ReservationName(KindOf(request), KeyOf(request));
}

absl::Status Validate(const EmailReservations::Request& request) {
  CRM_RETURN_IF_ERROR(domain::customer::ValidateCustomerId(request.customer_id(), "customer_id"));
  if (!request.external_id().empty()) {
    if (!request.email().empty()) {
      return status::InvalidArgument("email", "set exactly one of email and external_id");
    }
    return domain::customer::ValidateExternalId(request.external_id(), "external_id");
  }
  auto normalized = domain::customer::NormalizeEmail(request.email(), "email");
  if (!normalized.ok()) return normalized.status();
  if (*normalized != request.email()) {
    return status::InvalidArgument("email", absl::StrCat("must be normalized (", *normalized, ")"));
  }
  return absl::OkStatus();
}

command::Target TargetOf(const EmailReservations::Request& request) {
  const std::string name = StreamOf(request);
  return {.stream_key = name, .customer_id = request.customer_id(), .aggregate = name};
}

EmailReservations::Response ResponseOf(
    const EmailReservations::Request& request,
    const command::CommandResult<crm::internal::v1::EmailReservation>& result);

}  // namespace

base::Future<EmailReservations::Response> EmailReservations::Claim(const Request& request,
                                                                   const rpc::CallContext& call) {
  return Run(kClaimMethod, &EmailReservations::ClaimHere, request, call);
}

base::Future<EmailReservations::Response> EmailReservations::Release(const Request& request,
                                                                     const rpc::CallContext& call) {
  return Run(kReleaseMethod, &EmailReservations::ReleaseHere, request, call);
}

base::Future<EmailReservations::Response> EmailReservations::Run(const char* method, Here here,
                                                                 const Request& request,
                                                                 const rpc::CallContext& call) {
  std::optional<std::string> owner;
  if (router_ != nullptr) owner = router_->OwnerOf(StreamOf(request));
  if (!owner.has_value()) return (this->*here)(request, call);
  Response response;
  // Bounded even for callers without a deadline: replicas' workers must not wait on each other
  // for ever.
  const absl::Time deadline = std::min(call.deadline, absl::Now() + absl::Seconds(10));
  absl::Status called = router_->Call(*owner, method, request, &response, deadline, call);
  if (!called.ok()) {
    return status::Error(
        absl::StatusCode::kUnavailable,
        absl::StrCat("the e-mail reservation could not be checked: ", called.message()),
        "EMAIL_RESERVATION_UNAVAILABLE");
  }
  return response;
}

base::Future<EmailReservations::Response> EmailReservations::ClaimHere(
    const Request& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(Validate(request));
  // Whether `customer_id` has the address now: read its stream to the end first, so a takeover
  // never misses that the holder got the address a moment ago.
  auto holds_address = [&](absl::string_view customer_id) -> absl::StatusOr<bool> {
    CRM_RETURN_IF_ERROR(executor_->SyncStream(customer_id, call.deadline));
    CRM_ASSIGN_OR_RETURN(auto customer, FindCustomer(executor_, customer_id, call.deadline));
    if (KindOf(request) == ReservedKey::kExternalId) {
      return customer.state.external_id() == request.external_id();
    }
    const auto& emails = customer.state.emails();
    return std::find(emails.begin(), emails.end(), request.email()) != emails.end();
  };
  auto survivor_of = [&](absl::string_view customer_id) -> absl::StatusOr<std::string> {
    CRM_ASSIGN_OR_RETURN(auto customer, FindCustomer(executor_, customer_id, call.deadline));
    auto survivor = domain::customer::ParseCustomerName(customer.state.merged_into(), "");
    return survivor.ok() ? *survivor : "";
  };
  return executor_
      ->Execute<crm::internal::v1::EmailReservation>(
          TargetOf(request), /*request_id=*/"", call, EmailReservationKind(),
          [&](const crm::internal::v1::EmailReservation& current, int64_t,
              absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
            return domain::customer::DecideClaim(
                current, request.customer_id(), request.customer_version(),
                {.now = now, .holds_address = holds_address, .survivor_of = survivor_of},
                KindOf(request));
          })
      .Then([request](command::CommandResult<crm::internal::v1::EmailReservation> result) {
        return ResponseOf(request, result);
      });
}

base::Future<EmailReservations::Response> EmailReservations::ReleaseHere(
    const Request& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(Validate(request));
  return executor_
      ->Execute<crm::internal::v1::EmailReservation>(
          TargetOf(request), /*request_id=*/"", call, EmailReservationKind(),
          [&](const crm::internal::v1::EmailReservation& current, int64_t,
              absl::Time) -> absl::StatusOr<std::vector<command::Event>> {
            return domain::customer::DecideRelease(current, request.customer_id(),
                                                   request.customer_version(), KindOf(request));
          })
      .Then([request](command::CommandResult<crm::internal::v1::EmailReservation> result) {
        return ResponseOf(request, result);
      });
}

namespace {

EmailReservations::Response ResponseOf(
    const EmailReservations::Request& request,
    const command::CommandResult<crm::internal::v1::EmailReservation>& result) {
  EmailReservations::Response response;
  response.set_holder(result.state.holder());
  if (result.state.holder() == request.customer_id()) {
    response.set_lease_until_micros(
        absl::ToUnixMicros(domain::customer::UsableUntil(result.state)));
  }
  response.set_appended_event_count(result.appended_event_count);
  response.set_consistency_token(result.consistency_token);
  return response;
}

}  // namespace

EmailReservationService::EmailReservationService(EmailReservations* reservations,
                                                 command::CommandRouter* router,
                                                 rpc::Executor* executor)
    : rpc::ServiceTable(crm::internal::v1::EmailReservationService::service_full_name(), executor,
                        router) {
  Routed("ClaimEmail", reservations, &EmailReservations::ClaimHere, StreamOf);
  Routed("ReleaseEmail", reservations, &EmailReservations::ReleaseHere, StreamOf);
}

}  // namespace crm::services::customer
