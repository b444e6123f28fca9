#include "services/interaction/interaction_command_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "crm/v1/complaint.pb.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/interaction/interaction_aggregate.h"
#include "services/command/stream_lookup.h"
#include "services/customer/child_lookups.h"
#include "services/interaction/interaction_kind.h"

namespace crm::services::interaction {
namespace {

namespace rules = domain::interaction;
using crm::v1::Interaction;

}  // namespace

std::string InteractionIdFor(const crm::v1::LogInteractionRequest& request) {
  return command::IdForCreate(request.interaction_id(), "crm.v1.LogInteraction",
                              request.request_id());
}

InteractionCommandHandler::InteractionCommandHandler(command::CommandExecutor* executor)
    : executor_(executor), staff_(executor) {}

base::Future<InteractionCommandHandler::Response> InteractionCommandHandler::LogInteraction(
    const crm::v1::LogInteractionRequest& request, const rpc::CallContext& call) {
  const std::string interaction_id = InteractionIdFor(request);
  absl::StatusOr<std::string> customer_id =
      domain::customer::ParseCustomerName(request.parent(), "parent");

  // The lookups, for the decide function. Each syncs its stream once before saying "unknown".
  rules::DecideContext context;
  customer::LookupsFor(executor_, &staff_, call).FillInto(context);
  context.complaint_exists = [&](absl::string_view name) -> absl::StatusOr<bool> {
    // A linked complaint is always the same customer's: it lives on the same stream.
    return command::ExistsOnStream<crm::v1::Complaint>(executor_, name, *customer_id,
                                                       call.deadline);
  };

  if (!customer_id.ok() || !rules::ValidateInteractionId(interaction_id, "interaction_id").ok()) {
    // Malformed target: the rules reject the request (listing every bad field) before any
    // lookup, and nothing is executed.
    context.now = executor_->clock().Now();
    return rules::DecideLogInteraction(Interaction(), request, interaction_id, context).status();
  }

  const command::Target target{.stream_key = *customer_id,
                               .customer_id = *customer_id,
                               .aggregate = rules::InteractionName(*customer_id, interaction_id)};
  // A merged or archived customer takes no new interactions (a merged one's survivor does).
  {
    CRM_ASSIGN_OR_RETURN(auto customer,
                         customer::FindCustomer(executor_, *customer_id, call.deadline));
    CRM_RETURN_IF_ERROR(
        customer::CheckNewChild(executor_->state(), customer.state, target.aggregate));
  }
  base::Future<command::CommandResult<Interaction>> result = executor_->Execute<Interaction>(
      target, request.request_id(), call, InteractionKind(),
      [&](const Interaction& current, int64_t version,
          absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
        rules::DecideContext at_now = context;
        at_now.now = now;
        return rules::DecideLogInteraction(current, request, interaction_id, at_now);
      });
  return std::move(result).Then([](command::CommandResult<Interaction> done) {
    return command::ResponseOf(std::move(done), &Response::mutable_interaction);
  });
}

base::Future<InteractionCommandHandler::Response> InteractionCommandHandler::CompleteFollowUp(
    const crm::v1::CompleteFollowUpRequest& request, const rpc::CallContext& call) {
  rules::DecideContext context;
  context.staff = customer::LookupsFor(executor_, &staff_, call).staff;

  absl::StatusOr<rules::ChildName> target_name =
      rules::ParseInteractionName(request.name(), "name");
  if (!target_name.ok()) {
    context.now = executor_->clock().Now();
    return rules::DecideCompleteFollowUp(Interaction(), request, context).status();
  }
  const command::Target target{
      .stream_key = target_name->customer_id,
      .customer_id = target_name->customer_id,
      .aggregate = rules::InteractionName(target_name->customer_id, target_name->id)};
  base::Future<command::CommandResult<Interaction>> result = executor_->Execute<Interaction>(
      target, request.request_id(), call, InteractionKind(),
      [&](const Interaction& current, int64_t version,
          absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
        rules::DecideContext at_now = context;
        at_now.now = now;
        return rules::DecideCompleteFollowUp(current, request, at_now);
      });
  return std::move(result).Then([](command::CommandResult<Interaction> done) {
    return command::ResponseOf(std::move(done), &Response::mutable_interaction);
  });
}

base::Future<InteractionCommandHandler::Response> InteractionCommandHandler::RemindFollowUp(
    absl::string_view name, absl::Time due, absl::Duration lead, const std::string& request_id,
    const rpc::CallContext& call) {
  absl::StatusOr<rules::ChildName> parts = rules::ParseInteractionName(name, "name");
  if (!parts.ok()) return parts.status();
  const std::string interaction(name);
  const command::Target target{.stream_key = parts->customer_id,
                               .customer_id = parts->customer_id,
                               .aggregate = interaction};
  return executor_
      ->Execute<Interaction>(target, request_id, call, InteractionKind(),
                             [&](const Interaction& current, int64_t,
                                 absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
                               return rules::DecideRemindFollowUp(current, interaction, due, lead,
                                                                  now);
                             })
      .Then([](command::CommandResult<Interaction> done) {
        return command::ResponseOf(std::move(done), &Response::mutable_interaction);
      });
}

}  // namespace crm::services::interaction
