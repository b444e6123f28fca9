// gRPC front end of OrgCommandHandler: crm.v1.OrgService on the callback API with raw request
// bytes (parsed by common/rpc so bad fields are named), handlers on an rpc::Executor. Every org
// command goes to the stream "org": with several crm-command replicas, the one that writes that
// stream handles it and the others forward it (a routed rpc::ServiceTable).
// Thread-safe.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "crm/v1/org_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/org/org_command_handler.h"

namespace crm::services::org {

class OrgCommandService final : public rpc::ServiceTable {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  OrgCommandService(OrgCommandHandler* handler, command::CommandRouter* router,
                    rpc::Executor* executor);
};

}  // namespace crm::services::org
