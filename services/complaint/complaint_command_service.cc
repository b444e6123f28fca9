#include "services/complaint/complaint_command_service.h"

namespace crm::services::complaint {
namespace {

// A command addressed by `name` (customers/{cid}/complaints/{id}) goes to its customer's stream.
template <typename Req>
std::string ByName(Req& request) {
  return CustomerIdOf(request.name());
}

}  // namespace

ComplaintCommandService::ComplaintCommandService(ComplaintCommandHandler* handler,
                                                 command::CommandRouter* router,
                                                 rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::ComplaintCommandService::service_full_name(), executor, router) {
  Routed("FileComplaint", handler, &ComplaintCommandHandler::File,
         [](crm::v1::FileComplaintRequest& request) {
           // Fixed before forwarding, so the writer files under the same id.
           request.set_complaint_id(ComplaintIdFor(request));
           return CustomerIdOf(request.parent());
         });
  Routed("AcknowledgeComplaint", handler, &ComplaintCommandHandler::Acknowledge,
         ByName<crm::v1::AcknowledgeComplaintRequest>);
  Routed("AssignComplaint", handler, &ComplaintCommandHandler::Assign,
         ByName<crm::v1::AssignComplaintRequest>);
  Routed("StartInvestigation", handler, &ComplaintCommandHandler::StartInvestigation,
         ByName<crm::v1::StartInvestigationRequest>);
  Routed("ResolveComplaint", handler, &ComplaintCommandHandler::Resolve,
         ByName<crm::v1::ResolveComplaintRequest>);
  Routed("RecordFollowUpVisit", handler, &ComplaintCommandHandler::RecordFollowUpVisit,
         ByName<crm::v1::RecordFollowUpVisitRequest>);
  Routed("CloseComplaint", handler, &ComplaintCommandHandler::Close,
         ByName<crm::v1::CloseComplaintRequest>);
  Routed("ReopenComplaint", handler, &ComplaintCommandHandler::Reopen,
         ByName<crm::v1::ReopenComplaintRequest>);
  Routed("EscalateComplaint", handler, &ComplaintCommandHandler::Escalate,
         ByName<crm::v1::EscalateComplaintRequest>);
}

}  // namespace crm::services::complaint
