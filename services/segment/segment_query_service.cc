#include "services/segment/segment_query_service.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "domain/customer/customer_aggregate.h"
#include "readmodel/segment/segment_keys.h"
#include "services/query/query_support.h"

namespace crm::services::segment {

absl::Status SegmentQueries::AwaitToken(const std::string& token,
                                        const rpc::CallContext& call) const {
  return query::AwaitConsistencyToken(views_runner_, {readmodel::segment::kFoldName}, token, call,
                                      options_.max_consistency_wait);
}

absl::StatusOr<crm::v1::CustomerValue> SegmentQueries::GetCustomerValue(
    const crm::v1::GetCustomerValueRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(request.name(), "name"));
  CRM_ASSIGN_OR_RETURN(std::optional<absl::Time> as_of,
                       query::OptionalTime(request.has_as_of(), request.as_of(), "as_of"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  if (const auth::Grant* grant = call.grant.get(); grant != nullptr && !grant->everything()) {
    std::vector<std::string> holders;
    if (options_.customer_holders) holders = options_.customer_holders(id);
    CRM_RETURN_IF_ERROR(auth::CheckReach(grant, holders, request.name()));
  }
  CRM_ASSIGN_OR_RETURN(auto value, views_->GetCustomerValue(id, as_of.value_or(clock_->Now())));
  if (!value.has_value()) {
    return status::Error(absl::StatusCode::kNotFound,
                         absl::StrCat(request.name(), " does not exist"), "CUSTOMER_NOT_FOUND",
                         {{"name", request.name()}});
  }
  return *std::move(value);
}

absl::StatusOr<crm::v1::SegmentSizes> SegmentQueries::GetSegmentSizes(
    const crm::v1::GetSegmentSizesRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetSegmentSizes();
}

absl::StatusOr<crm::v1::LifecycleFunnel> SegmentQueries::GetLifecycleFunnel(
    const crm::v1::GetLifecycleFunnelRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(
      query::Window window,
      query::CheckWindow(request.has_start_time(), request.start_time(), "start_time",
                         request.has_end_time(), request.end_time(), "end_time"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return views_->GetLifecycleFunnel(window.start, window.end);
}

SegmentQueryService::SegmentQueryService(const SegmentQueries* queries, rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::SegmentService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("GetCustomerValue", queries, &SegmentQueries::GetCustomerValue);
  Unary("GetSegmentSizes", queries, &SegmentQueries::GetSegmentSizes);
  Unary("GetLifecycleFunnel", queries, &SegmentQueries::GetLifecycleFunnel);
  AuditReads({"GetCustomerValue"});
}

}  // namespace crm::services::segment
