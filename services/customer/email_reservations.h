// EmailReservations: claims of e-mail addresses (domain/customer/email_reservation.h) on the
// replica that writes each address's reservation aggregate, so an address belongs to at most one
// customer across every crm-command replica. External ids are claimed the same way: a request
// that sets external_id (instead of email) is about that external id's reservation.
//
// Claim and Release run here when this replica writes the reservation's stream (always, with one
// replica), else call EmailReservationService on the replica that does
// (crm.internal.v1; served by every crm-command next to the public command services).
//
// A claim on another replica is a blocking gRPC call (bounded to 10 s); one here completes when
// its event is in the state, like any command.
// Thread-safe.
#pragma once

#include "absl/status/statusor.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
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
  base::Future<Response> Claim(const Request& request, const rpc::CallContext& call);

  // Releases `request.email` if `request.customer_id` holds it by a claim made before
  // `request.customer_version` (see domain/customer/email_reservation.h), wherever it is written.
  base::Future<Response> Release(const Request& request, const rpc::CallContext& call);

  // The claim and the release, run on this replica (the service's handlers).
  base::Future<Response> ClaimHere(const Request& request, const rpc::CallContext& call);
  base::Future<Response> ReleaseHere(const Request& request, const rpc::CallContext& call);

 private:
  using Here = base::Future<Response> (EmailReservations::*)(const Request&,
                                                             const rpc::CallContext&);
  base::Future<Response> Run(const char* method, Here here, const Request& request,
                             const rpc::CallContext& call);

  command::CommandExecutor* const executor_;
  command::CommandRouter* const router_;
};

// crm.internal.v1.EmailReservationService: the claims other replicas send here.
class EmailReservationService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  EmailReservationService(EmailReservations* reservations, command::CommandRouter* router,
                          rpc::Executor* executor);
};

}  // namespace crm::services::customer
