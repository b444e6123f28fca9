#include "services/survey/survey_command_service.h"

#include "domain/customer/customer_aggregate.h"
#include "domain/survey/survey_aggregate.h"

namespace crm::services::survey {

SurveyCommandService::SurveyCommandService(SurveyCommandHandler* handler,
                                           command::CommandRouter* router, rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::SurveyCommandService::service_full_name(), executor, router) {
  Routed("SendSurvey", handler, &SurveyCommandHandler::SendSurvey,
         [](crm::v1::SendSurveyRequest& request) -> std::string {
           // Fix the id before forwarding, so that the writer sends under the same one.
           request.set_survey_id(SurveyIdFor(request));
           auto id = domain::customer::ParseCustomerName(request.parent(), "parent");
           return id.ok() ? *id : "";
         });
  Routed("RecordSurveyAnswer", handler, &SurveyCommandHandler::RecordSurveyAnswer,
         [](crm::v1::RecordSurveyAnswerRequest& request) -> std::string {
           auto name = domain::survey::ParseSurveyName(request.name(), "name");
           return name.ok() ? name->customer_id : "";
         });
}

}  // namespace crm::services::survey
