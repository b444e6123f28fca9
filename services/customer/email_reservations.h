// EmailReservations: claims of e-mail addresses (domain/customer/email_reservation.h) on the
// replica that writes each address's reservation aggregate, so an address belongs to at most one
// customer across every crm-command replica.
//
// Claim and Release run here when this replica writes the reservation's stream (always, with one
// replica), else call EmailReservationService on the replica that does
// (crm.internal.v1; served by every crm-command next to the public command services).
//
// Thread-safe.
#pragma once

#include "absl/status/statusor.h"
#include "common/rpc/executor.h"
#include "common/rpc/unary.h"
#include "crm/internal/v1/reservation_service.grpc.pb.h"
#include "services/command/command_executor.h"
#include "services/command/command_router.h"

namespace crm::services::customer {

class EmailReservations {
 public:
  using Request = crm::internal::v1::ClaimEmailRequest;
  using Response = crm::internal::v1::ClaimEmailResponse;

  // Does not take ownership. `router` may be null (one replica).
  EmailReservations(command::CommandExecutor* executor, command::CommandRouter* router)
      : executor_(executor), router_(router) {}

  // Claims `request.email` (normalized) for `request.customer_id` wherever it is written. OK with
  // the holder afterwards (the claimant, or the customer the address belongs to) and, when the
  // claimant holds it, until when it may use the claim.
  absl::StatusOr<Response> Claim(const Request& request, const rpc::CallContext& call);

  // Releases `request.email` if `request.customer_id` holds it by a claim made before
  // `request.customer_version` (see domain/customer/email_reservation.h), wherever it is written.
  absl::StatusOr<Response> Release(const Request& request, const rpc::CallContext& call);

  // The claim and the release, run on this replica (the service's handlers).
  absl::StatusOr<Response> ClaimHere(const Request& request, const rpc::CallContext& call);
  absl::StatusOr<Response> ReleaseHere(const Request& request, const rpc::CallContext& call);

 private:
  using Here = absl::StatusOr<Response> (EmailReservations::*)(const Request&,
                                                               const rpc::CallContext&);
  absl::StatusOr<Response> Run(const char* method, Here here, const Request& request,
                               const rpc::CallContext& call);

  command::CommandExecutor* const executor_;
  command::CommandRouter* const router_;
};

using EmailReservationRawBase =
    crm::internal::v1::EmailReservationService::WithRawCallbackMethod_ClaimEmail<
        crm::internal::v1::EmailReservationService::WithRawCallbackMethod_ReleaseEmail<
            crm::internal::v1::EmailReservationService::Service>>;

// crm.internal.v1.EmailReservationService: the claims other replicas send here.
class EmailReservationService final : public EmailReservationRawBase {
 public:
  // Does not take ownership.
  EmailReservationService(EmailReservations* reservations, command::CommandRouter* router,
                          rpc::Executor* executor)
      : reservations_(reservations), router_(router), executor_(executor) {}

  grpc::ServerUnaryReactor* ClaimEmail(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ReleaseEmail(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* in,
                                         grpc::ByteBuffer* out) override;

 private:
  EmailReservations* const reservations_;
  command::CommandRouter* const router_;
  rpc::Executor* const executor_;
};

}  // namespace crm::services::customer
