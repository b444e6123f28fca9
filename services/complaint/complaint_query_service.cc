#include "services/complaint/complaint_query_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "domain/common/field_checks.h"
#include "domain/customer/customer_aggregate.h"
#include "google/rpc/error_details.pb.h"
#include "readmodel/complaint/view_keys.h"
#include "services/query/page_token.h"
#include "services/query/query_support.h"

namespace crm::services::complaint {
namespace {

using readmodel::complaint::ComplaintViews;

absl::Status ComplaintNotFound(const std::string& name) {
  return query::NotFound(name, "COMPLAINT_NOT_FOUND", "crm.v1.Complaint");
}

}  // namespace

absl::StatusOr<ComplaintIds> ParseComplaintName(absl::string_view name, absl::string_view field) {
  if (name.empty()) return status::InvalidArgument(field, "is required");
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "customers" || parts[2] != "complaints" ||
      !crm::domain::ValidateCustomerId(parts[1], field).ok() ||
      !crm::domain::ValidateCustomerId(parts[3], field).ok()) {
    return status::InvalidArgument(
        field,
        "must be customers/{customer_id}/complaints/{complaint_id} with ids of 1 to 63 of "
        "[a-z0-9-]");
  }
  return ComplaintIds{std::string(parts[1]), std::string(parts[3])};
}

bool ComplaintQueries::Visible(const crm::v1::Complaint& complaint,
                               const rpc::CallContext& call) const {
  const auth::Grant* grant = call.grant.get();
  if (grant == nullptr || grant->everything()) return true;
  std::vector<std::string> holders = access::HoldersOf(complaint);
  if (options_.customer_holders) {
    auto ids = ParseComplaintName(complaint.name(), "name");
    if (ids.ok()) {
      for (std::string& h : options_.customer_holders(ids->customer_id)) {
        holders.push_back(std::move(h));
      }
    }
  }
  return grant->Reaches(holders);
}

absl::StatusOr<crm::v1::Complaint> ComplaintQueries::Reached(const std::string& name,
                                                             const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(auto complaint, views_->Get(name));
  const auth::Grant* grant = call.grant.get();
  if (grant != nullptr && !grant->everything() &&
      (!complaint.has_value() || !Visible(*complaint, call))) {
    return auth::Denied(name);
  }
  if (!complaint.has_value()) return ComplaintNotFound(name);
  return *std::move(complaint);
}

absl::Status ComplaintQueries::AwaitToken(const std::string& token,
                                          const rpc::CallContext& call) const {
  return query::AwaitConsistencyToken(views_runner_, {readmodel::complaint::kFoldName}, token, call,
                                      options_.max_consistency_wait);
}

absl::StatusOr<crm::v1::Complaint> ComplaintQueries::Get(
    const crm::v1::GetComplaintRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(ParseComplaintName(request.name(), "name").status());
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  return Reached(request.name(), call);
}

absl::StatusOr<crm::v1::GetComplaintHistoryResponse> ComplaintQueries::History(
    const crm::v1::GetComplaintHistoryRequest& request, const rpc::CallContext& call) const {
  CRM_RETURN_IF_ERROR(ParseComplaintName(request.name(), "name").status());
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 100));
  int64_t after_version = 0;
  if (!request.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(
        std::string cursor,
        query::DecodePageToken(request.page_token(), "complaint-history", request.name()));
    if (!absl::SimpleAtoi(cursor, &after_version) || after_version < 0) {
      return status::InvalidArgument("page_token", "is not a page token from this API");
    }
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_RETURN_IF_ERROR(Reached(request.name(), call).status());
  CRM_ASSIGN_OR_RETURN(ComplaintViews::HistoryPage page,
                       views_->History(request.name(), after_version, page_size));
  crm::v1::GetComplaintHistoryResponse response;
  for (auto& e : page.events) *response.add_events() = std::move(e);
  if (page.more && !response.events().empty()) {
    response.set_next_page_token(query::EncodePageToken(
        "complaint-history", request.name(),
        absl::StrCat(response.events(response.events_size() - 1).aggregate_version())));
  }
  return response;
}

absl::StatusOr<crm::v1::ListComplaintsResponse> ComplaintQueries::List(
    const crm::v1::ListComplaintsRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 50));
  ComplaintViews::Filter filter;
  if (!request.parent().empty() && request.parent() != "customers/-") {
    CRM_ASSIGN_OR_RETURN(filter.customer_id,
                         domain::customer::ParseCustomerName(request.parent(), "parent"));
  }
  if (!crm::v1::ComplaintStatus_IsValid(request.status())) {
    return status::InvalidArgument("status", "is not a known complaint status");
  }
  if (!crm::v1::ComplaintCategory_IsValid(request.category())) {
    return status::InvalidArgument("category", "is not a known complaint category");
  }
  if (!crm::v1::ComplaintSeverity_IsValid(request.severity())) {
    return status::InvalidArgument("severity", "is not a known complaint severity");
  }
  filter.status = request.status();
  filter.category = request.category();
  filter.severity = request.severity();
  filter.overdue_only = request.overdue_only();
  if (!request.assignee().empty()) {
    CRM_RETURN_IF_ERROR(crm::domain::ValidateStaffId(request.assignee(), "assignee"));
    filter.assignee = request.assignee();
  }
  const std::string fingerprint =
      absl::StrCat(filter.customer_id, "|", filter.status, "|", filter.assignee, "|",
                   filter.category, "|", filter.severity, "|", filter.overdue_only ? 1 : 0);
  std::string after_name;
  if (!request.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(after_name,
                         query::DecodePageToken(request.page_token(), "complaints", fingerprint));
    if (!ParseComplaintName(after_name, "page_token").ok()) {
      return status::InvalidArgument("page_token", "is not a page token from this API");
    }
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  // Complaints the caller does not reach are left out (common/auth/grant.h).
  CRM_ASSIGN_OR_RETURN(
      query::VisiblePage<crm::v1::Complaint> page,
      query::FetchVisible<crm::v1::Complaint>(
          after_name, page_size,
          [&](const std::string& after,
              size_t n) -> absl::StatusOr<std::pair<std::vector<crm::v1::Complaint>, bool>> {
            CRM_ASSIGN_OR_RETURN(ComplaintViews::Page batch, views_->List(filter, after, n));
            return std::make_pair(std::move(batch.complaints), batch.more);
          },
          [](const crm::v1::Complaint& c) { return c.name(); },
          [&](const crm::v1::Complaint& c) { return Visible(c, call); }));
  crm::v1::ListComplaintsResponse response;
  for (auto& c : page.rows) *response.add_complaints() = std::move(c);
  if (page.more && !page.last_key.empty()) {
    response.set_next_page_token(query::EncodePageToken("complaints", fingerprint, page.last_key));
  }
  return response;
}

ComplaintQueryService::ComplaintQueryService(const ComplaintQueries* queries,
                                             rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::ComplaintQueryService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("GetComplaint", queries, &ComplaintQueries::Get);
  Unary("GetComplaintHistory", queries, &ComplaintQueries::History);
  Unary("ListComplaints", queries, &ComplaintQueries::List);
  AuditReads({"GetComplaint", "GetComplaintHistory", "ListComplaints"});
}

}  // namespace crm::services::complaint
