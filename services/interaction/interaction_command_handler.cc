#include "services/interaction/interaction_command_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/uuid.h"
#include "crm/v1/complaint.pb.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/interaction/interaction_aggregate.h"
#include "services/interaction/interaction_kind.h"

namespace crm::services::interaction {
namespace {

namespace rules = domain::interaction;
using crm::v1::Interaction;

}  // namespace

std::string InteractionIdFor(const crm::v1::LogInteractionRequest& request) {
  if (!request.interaction_id().empty()) return request.interaction_id();
  if (!request.request_id().empty()) {
    return base::UuidFromName(absl::StrCat("crm.v1.LogInteraction/", request.request_id()));
  }
  return base::NewUuid();
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
  context.customer_exists = [&](absl::string_view id) -> absl::StatusOr<bool> {
    auto found = customer::FindCustomer(executor_, id, call.deadline);
    if (!found.ok()) return found.status();
    return found->version > 0;
  };
  context.customer_tier = [&](absl::string_view id) -> absl::StatusOr<crm::v1::ValueTier> {
    auto found = customer::FindCustomer(executor_, id, call.deadline);
    if (!found.ok()) return found.status();
    return found->state.value_tier();
  };
  context.staff = [&](absl::string_view staff_id,
                      absl::string_view field) -> absl::StatusOr<crm::v1::StaffRef> {
    absl::StatusOr<crm::v1::Staff> staff = staff_.Find(staff_id, field, call.deadline);
    if (!staff.ok()) return staff.status();
    return org::StaffDirectory::RefOf(*staff);
  };
  context.complaint_exists = [&](absl::string_view name) -> absl::StatusOr<bool> {
    for (int attempt = 0;; ++attempt) {
      absl::StatusOr<command::Versioned<crm::v1::Complaint>> found =
          executor_->state().Get<crm::v1::Complaint>(name);
      if (!found.ok()) return found.status();
      if (found->version > 0 || attempt > 0) return found->version > 0;
      // A linked complaint is always the same customer's: it lives on the same stream.
      absl::Status synced = executor_->SyncStream(*customer_id, call.deadline);
      if (!synced.ok()) return synced;
    }
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
  // A merged customer takes no new interactions (its survivor does); a retry of one logged
  // before the merge still gets its answer.
  {
    CRM_ASSIGN_OR_RETURN(auto customer,
                         customer::FindCustomer(executor_, *customer_id, call.deadline));
    if (!customer.state.merged_into().empty()) {
      CRM_ASSIGN_OR_RETURN(auto existing, executor_->state().Get<Interaction>(target.aggregate));
      if (existing.version == 0) return domain::customer::CheckNotMerged(customer.state);
    }
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
  context.staff = [&](absl::string_view staff_id,
                      absl::string_view field) -> absl::StatusOr<crm::v1::StaffRef> {
    absl::StatusOr<crm::v1::Staff> staff = staff_.Find(staff_id, field, call.deadline);
    if (!staff.ok()) return staff.status();
    return org::StaffDirectory::RefOf(*staff);
  };

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

}  // namespace crm::services::interaction
