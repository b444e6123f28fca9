// CustomerImporter: ImportCustomers (bulk import) on top of the customer commands.
//
// Each row is checked (domain/customer/customer_import.h: RegisterCustomer's rules), matched to a
// customer by its external_id, else by its first e-mail that belongs to someone (the reservation
// aggregates of services/customer/email_reservations.h say who holds a key; a holder is a match
// only if its customer has the key now), and then becomes the customer commands of its plan, run
// one after the other as CustomerCommandHandler runs them for their own RPCs (claims, locks,
// request ids, stamping), on this replica or, for a customer another replica writes, on that one
// through the public method (the caller's credentials go along). Rows run in order, one at a time,
// on the calling worker; a row's commands each wait for the previous one.
//
// A retried import (the same request_id) answers its first answer: a row's step whose request id
// the command state has recorded for the row's customer runs again whatever the customer looks
// like now (a recorded register step means the row registered, not matched), so every step
// answers its first answer and the row's outcome and counts are those of the first call.
//
// A row that fails is reported (the error its command answered) and the import goes on. Within
// one import an e-mail or external id may appear in one row only: a later row repeating one fails
// (ALREADY_EXISTS, reason DUPLICATE_IN_IMPORT) rather than updating the customer an earlier row
// wrote. Once the call's deadline passes or the client cancels, the remaining rows are not run and
// the call ends with that error: the rows before it are recorded.
//
// Thread-safe: imports run in parallel (rows of two imports on one customer are serialized by
// the command locks, not ordered).
#pragma once

#include "absl/status/statusor.h"
#include "common/rpc/unary.h"
#include "crm/v1/customer_service.pb.h"
#include "domain/customer/email_reservation.h"
#include "services/command/command_executor.h"
#include "services/command/command_router.h"
#include "services/customer/customer_command_handler.h"

namespace crm::services::customer {

class CustomerImporter {
 public:
  // Does not take ownership. `router` may be null (one replica).
  CustomerImporter(command::CommandExecutor* executor, CustomerCommandHandler* handler,
                   command::CommandRouter* router);

  // INVALID_ARGUMENT for a malformed request_id; RESOURCE_EXHAUSTED (TOO_MANY_ROWS) for more
  // than kMaxImportRows rows; DEADLINE_EXCEEDED / CANCELLED as above. Otherwise OK with a result
  // per row.
  absl::StatusOr<crm::v1::ImportCustomersResponse> Import(
      const crm::v1::ImportCustomersRequest& request, const rpc::CallContext& call);

 private:
  struct Row;
  // Runs the commands of one checked row; fills its result.
  absl::Status RunRow(Row& row, const rpc::CallContext& call);
  // The customer holding `key` now, if any.
  absl::StatusOr<std::optional<std::string>> Holder(domain::customer::ReservedKey kind,
                                                    const std::string& key,
                                                    const rpc::CallContext& call);
  // Runs one customer command here or on the replica that writes `customer_id`.
  template <typename Req>
  absl::StatusOr<crm::v1::CustomerCommandResponse> Run(
      const char* method, const std::string& customer_id, const Req& request,
      base::Future<crm::v1::CustomerCommandResponse> (CustomerCommandHandler::*local)(
          const Req&, const rpc::CallContext&),
      const rpc::CallContext& call);

  command::CommandExecutor* const executor_;
  CustomerCommandHandler* const handler_;
  command::CommandRouter* const router_;
};

}  // namespace crm::services::customer
