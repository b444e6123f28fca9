#include "services/survey/survey_command_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "crm/v1/complaint.pb.h"
#include "crm/v1/interaction.pb.h"
#include "domain/common/field_checks.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/survey/survey_aggregate.h"
#include "services/command/stream_lookup.h"
#include "services/customer/child_lookups.h"
#include "services/customer/customer_kind.h"
#include "services/survey/survey_kind.h"

namespace crm::services::survey {
namespace {

namespace rules = domain::survey;
using crm::v1::Survey;

base::Future<SurveyCommandHandler::Response> Answer(
    base::Future<command::CommandResult<Survey>> result) {
  return std::move(result).Then([](command::CommandResult<Survey> done) {
    return command::ResponseOf(std::move(done), &SurveyCommandHandler::Response::mutable_survey);
  });
}

}  // namespace

std::string SurveyIdFor(const crm::v1::SendSurveyRequest& request) {
  return command::IdForCreate(request.survey_id(), "crm.v1.SendSurvey", request.request_id());
}

SurveyCommandHandler::SurveyCommandHandler(command::CommandExecutor* executor)
    : executor_(executor), staff_(executor) {}

base::Future<SurveyCommandHandler::Response> SurveyCommandHandler::SendSurvey(
    const crm::v1::SendSurveyRequest& request, const rpc::CallContext& call) {
  const std::string survey_id = SurveyIdFor(request);
  absl::StatusOr<std::string> customer_id =
      domain::customer::ParseCustomerName(request.parent(), "parent");

  rules::DecideContext context;
  customer::LookupsFor(executor_, &staff_, call).FillInto(context);
  context.complaint_exists = [&](absl::string_view name) {
    return command::ExistsOnStream<crm::v1::Complaint>(executor_, name, *customer_id,
                                                       call.deadline);
  };
  context.interaction_exists = [&](absl::string_view name) {
    return command::ExistsOnStream<crm::v1::Interaction>(executor_, name, *customer_id,
                                                         call.deadline);
  };

  if (!customer_id.ok() || !domain::ValidateCustomerId(survey_id, "survey_id").ok()) {
    // Malformed target: the rules list every bad field before any lookup.
    context.now = executor_->clock().Now();
    return rules::DecideSendSurvey(Survey(), request, survey_id, context).status();
  }
  const command::Target target{.stream_key = *customer_id,
                               .customer_id = *customer_id,
                               .aggregate = rules::SurveyName(*customer_id, survey_id)};
  // A merged or archived customer takes no new surveys.
  {
    CRM_ASSIGN_OR_RETURN(auto customer,
                         customer::FindCustomer(executor_, *customer_id, call.deadline));
    CRM_RETURN_IF_ERROR(
        customer::CheckNewChild(executor_->state(), customer.state, target.aggregate));
  }
  return Answer(executor_->Execute<Survey>(
      target, request.request_id(), call, SurveyKind(),
      [&](const Survey& current, int64_t version,
          absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
        rules::DecideContext at_now = context;
        at_now.now = now;
        return rules::DecideSendSurvey(current, request, survey_id, at_now);
      }));
}

base::Future<SurveyCommandHandler::Response> SurveyCommandHandler::RecordSurveyAnswer(
    const crm::v1::RecordSurveyAnswerRequest& request, const rpc::CallContext& call) {
  rules::DecideContext context;
  absl::StatusOr<rules::ChildName> name = rules::ParseSurveyName(request.name(), "name");
  if (!name.ok()) {
    context.now = executor_->clock().Now();
    return rules::DecideRecordSurveyAnswer(Survey(), request, context).status();
  }
  const command::Target target{.stream_key = name->customer_id,
                               .customer_id = name->customer_id,
                               .aggregate = rules::SurveyName(name->customer_id, name->id)};
  return Answer(executor_->Execute<Survey>(
      target, request.request_id(), call, SurveyKind(),
      [&](const Survey& current, int64_t version,
          absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
        rules::DecideContext at_now = context;
        at_now.now = now;
        return rules::DecideRecordSurveyAnswer(current, request, at_now);
      }));
}

base::Future<SurveyCommandHandler::Response> SurveyCommandHandler::ExpireSurvey(
    absl::string_view name, absl::Time due, const std::string& request_id,
    const rpc::CallContext& call) {
  absl::StatusOr<rules::ChildName> parts = rules::ParseSurveyName(name, "name");
  if (!parts.ok()) return parts.status();
  const std::string survey(name);
  const command::Target target{
      .stream_key = parts->customer_id, .customer_id = parts->customer_id, .aggregate = survey};
  return Answer(executor_->Execute<Survey>(
      target, request_id, call, SurveyKind(),
      [&](const Survey& current, int64_t version,
          absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
        Survey named = current;
        if (named.name().empty()) named.set_name(survey);  // for NOT_FOUND's message
        rules::DecideContext context;
        context.now = now;
        return rules::DecideExpireSurvey(named, due, context);
      }));
}

}  // namespace crm::services::survey
