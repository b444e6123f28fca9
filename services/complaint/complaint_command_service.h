// gRPC front end of ComplaintCommandHandler: crm.v1.ComplaintCommandService on the callback API
// with raw request bytes (parsed by common/rpc so bad fields are named), handlers on an
// Executor, and each command forwarded to the replica that writes its customer's stream
// (a routed rpc::ServiceTable). Thread-safe.
#pragma once

#include <functional>
#include <string>

#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "crm/v1/complaint_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/complaint/complaint_command_handler.h"

namespace crm::services::complaint {

class ComplaintCommandService final : public rpc::ServiceTable {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  ComplaintCommandService(ComplaintCommandHandler* handler, command::CommandRouter* router,
                          rpc::Executor* executor);
};

}  // namespace crm::services::complaint
