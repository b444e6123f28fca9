#include "services/interaction/interaction_command_service.h"

#include "domain/customer/customer_aggregate.h"
#include "domain/interaction/interaction_aggregate.h"
#include "services/command/routed_serve.h"

namespace crm::services::interaction {

using Response = crm::v1::InteractionCommandResponse;

grpc::ServerUnaryReactor* InteractionCommandService::LogInteraction(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::LogInteractionRequest, Response>(
      ctx, in, out, executor_, router_, "/crm.v1.InteractionCommandService/LogInteraction",
      [](crm::v1::LogInteractionRequest& request) -> std::string {
        // Fix the id before forwarding, so that the writer logs under the same one.
        request.set_interaction_id(InteractionIdFor(request));
        auto id = domain::customer::ParseCustomerName(request.parent(), "parent");
        return id.ok() ? *id : "";
      },
      [this](const auto& request, const auto& call) {
        return handler_->LogInteraction(request, call);
      });
}

grpc::ServerUnaryReactor* InteractionCommandService::CompleteFollowUp(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::CompleteFollowUpRequest, Response>(
      ctx, in, out, executor_, router_, "/crm.v1.InteractionCommandService/CompleteFollowUp",
      [](crm::v1::CompleteFollowUpRequest& request) -> std::string {
        auto name = domain::interaction::ParseInteractionName(request.name(), "name");
        return name.ok() ? name->customer_id : "";
      },
      [this](const auto& request, const auto& call) {
        return handler_->CompleteFollowUp(request, call);
      });
}

}  // namespace crm::services::interaction
