// gRPC front end of InteractionCommandHandler: crm.v1.InteractionCommandService on the callback
// API with raw request bytes (parsed by common/rpc so bad fields are named), handlers on an
// Executor, each command routed to the crm-command replica that writes its customer's stream
// (a routed rpc::ServiceTable). Thread-safe.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "crm/v1/interaction_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/interaction/interaction_command_handler.h"

namespace crm::services::interaction {

class InteractionCommandService final : public rpc::ServiceTable {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  InteractionCommandService(InteractionCommandHandler* handler, command::CommandRouter* router,
                            rpc::Executor* executor);
};

}  // namespace crm::services::interaction
