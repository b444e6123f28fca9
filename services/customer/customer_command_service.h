// gRPC front end of CustomerCommandHandler: crm.v1.CustomerCommandService on
// the callback API with raw request bytes (parsed by common/rpc so bad fields
// are named), handlers on an Executor. Thread-safe.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "crm/internal/v1/merge_service.grpc.pb.h"
#include "crm/v1/customer_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/customer/customer_command_handler.h"
#include "services/customer/customer_importer.h"

namespace crm::services::customer {

class CustomerCommandService final : public rpc::ServiceTable {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  CustomerCommandService(CustomerCommandHandler* handler, CustomerImporter* importer,
                         command::CommandRouter* router, rpc::Executor* executor);
};

// crm.internal.v1.CustomerMergeService: the merged customer's half of a merge whose survivor
// another replica writes (CustomerCommandHandler::SealMerged), routed to the merged customer's
// writer.
class CustomerMergeService final : public rpc::ServiceTable {
 public:
  // Does not take ownership. `router` may be null.
  CustomerMergeService(CustomerCommandHandler* handler, command::CommandRouter* router,
                       rpc::Executor* executor);
};

}  // namespace crm::services::customer
