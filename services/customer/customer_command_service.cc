#include "services/customer/customer_command_service.h"

#include "domain/customer/customer_aggregate.h"
#include "domain/customer/customer_import.h"

namespace crm::services::customer {
namespace {

// The customer id in a resource name; empty (handled here, which rejects it) if malformed.
std::string IdOf(const std::string& name) {
  auto id = domain::customer::ParseCustomerName(name, "name");
  return id.ok() ? *id : "";
}

template <typename Req>
std::string ByName(Req& request) {
  return IdOf(request.name());
}

}  // namespace

CustomerCommandService::CustomerCommandService(CustomerCommandHandler* handler,
                                               CustomerImporter* importer,
                                               command::CommandRouter* router,
                                               rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::CustomerCommandService::service_full_name(), executor, router) {
  Routed("RegisterCustomer", handler, &CustomerCommandHandler::Register,
         [](crm::v1::RegisterCustomerRequest& request) {
           // Fixed before forwarding, so the writer registers under the same id.
           request.set_customer_id(CustomerIdFor(request));
           return request.customer_id();
         });
  Routed("UpdateCustomer", handler, &CustomerCommandHandler::Update,
         [](crm::v1::UpdateCustomerRequest& request) { return IdOf(request.customer().name()); });
  Routed("ChangeLifecycleStage", handler, &CustomerCommandHandler::ChangeLifecycleStage,
         ByName<crm::v1::ChangeLifecycleStageRequest>);
  Routed("AssignOwner", handler, &CustomerCommandHandler::AssignOwner,
         ByName<crm::v1::AssignOwnerRequest>);
  Routed("UnassignOwner", handler, &CustomerCommandHandler::UnassignOwner,
         ByName<crm::v1::UnassignOwnerRequest>);
  Routed("RefundPurchase", handler, &CustomerCommandHandler::RefundPurchase,
         ByName<crm::v1::RefundPurchaseRequest>);
  Routed("ArchiveCustomer", handler, &CustomerCommandHandler::Archive,
         ByName<crm::v1::ArchiveCustomerRequest>);
  Routed("UnarchiveCustomer", handler, &CustomerCommandHandler::Unarchive,
         ByName<crm::v1::UnarchiveCustomerRequest>);
  Routed("TagCustomer", handler, &CustomerCommandHandler::Tag, ByName<crm::v1::TagCustomerRequest>);
  Routed("UntagCustomer", handler, &CustomerCommandHandler::Untag,
         ByName<crm::v1::UntagCustomerRequest>);
  Routed("RecordPurchase", handler, &CustomerCommandHandler::RecordPurchase,
         ByName<crm::v1::RecordPurchaseRequest>);
  // To the survivor's writer (which asks the merged customer's writer for its half).
  Routed("MergeCustomers", handler, &CustomerCommandHandler::Merge,
         [](crm::v1::MergeCustomersRequest& request) { return IdOf(request.survivor()); });
  // Bulk import: handled where it arrives; each row's commands go to the replica writing them.
  ClientStream("ImportCustomers", importer, &CustomerImporter::Import,
               domain::customer::kMaxImportBytes);
}

CustomerMergeService::CustomerMergeService(CustomerCommandHandler* handler,
                                           command::CommandRouter* router, rpc::Executor* executor)
    : rpc::ServiceTable(crm::internal::v1::CustomerMergeService::service_full_name(), executor,
                        router) {
  // To the merged customer's writer.
  Routed("SealMergedCustomer", handler, &CustomerCommandHandler::SealMerged,
         [](crm::internal::v1::SealMergedCustomerRequest& request) {
           return IdOf(request.merge().merged());
         });
}

}  // namespace crm::services::customer
