#include "services/interaction/interaction_command_service.h"

#include "domain/customer/customer_aggregate.h"
#include "domain/interaction/interaction_aggregate.h"

namespace crm::services::interaction {

InteractionCommandService::InteractionCommandService(InteractionCommandHandler* handler,
                                                     command::CommandRouter* router,
                                                     rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::InteractionCommandService::service_full_name(), executor, router) {
  Routed("LogInteraction", handler, &InteractionCommandHandler::LogInteraction,
         [](crm::v1::LogInteractionRequest& request) -> std::string {
           // Fix the id before forwarding, so that the writer logs under the same one.
           request.set_interaction_id(InteractionIdFor(request));
           auto id = domain::customer::ParseCustomerName(request.parent(), "parent");
           return id.ok() ? *id : "";
         });
  Routed("CompleteFollowUp", handler, &InteractionCommandHandler::CompleteFollowUp,
         [](crm::v1::CompleteFollowUpRequest& request) -> std::string {
           auto name = domain::interaction::ParseInteractionName(request.name(), "name");
           return name.ok() ? name->customer_id : "";
         });
}

}  // namespace crm::services::interaction
