// gRPC front end of InteractionCommandHandler: crm.v1.InteractionCommandService on the callback
// API with raw request bytes (parsed by common/rpc so bad fields are named), handlers on an
// Executor, each command routed to the crm-command replica that writes its customer's stream
// (command::ServeRouted). Thread-safe.
#pragma once

#include "common/rpc/executor.h"
#include "crm/v1/interaction_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/interaction/interaction_command_handler.h"

namespace crm::services::interaction {

using InteractionCommandRawBase =
    crm::v1::InteractionCommandService::WithRawCallbackMethod_LogInteraction<
        crm::v1::InteractionCommandService::WithRawCallbackMethod_CompleteFollowUp<
            crm::v1::InteractionCommandService::Service>>;

class InteractionCommandService final : public InteractionCommandRawBase {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  InteractionCommandService(InteractionCommandHandler* handler, command::CommandRouter* router,
                            rpc::Executor* executor)
      : handler_(handler), router_(router), executor_(executor) {}

  grpc::ServerUnaryReactor* LogInteraction(grpc::CallbackServerContext* ctx,
                                           const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* CompleteFollowUp(grpc::CallbackServerContext* ctx,
                                             const grpc::ByteBuffer* in,
                                             grpc::ByteBuffer* out) override;

 private:
  InteractionCommandHandler* const handler_;
  command::CommandRouter* const router_;
  rpc::Executor* const executor_;
};

}  // namespace crm::services::interaction
