#include "services/customer/customer_query_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "domain/common/field_checks.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/validation.h"
#include "readmodel/customer/text_fold.h"
#include "readmodel/customer/view_keys.h"
#include "readmodel/org/org_view_keys.h"
#include "services/access/holders.h"
#include "services/access/owner_place.h"
#include "services/query/query_support.h"

namespace crm::services::customer {
namespace {

using readmodel::customer::CustomerViews;
using readmodel::customer::Index;

constexpr size_t kMaxFindResults = 100;
// How many merges GetCustomer follows from a merged customer to its survivor.
constexpr int kMaxMergeHops = 8;

absl::Status CustomerNotFound(const std::string& name) {
  return status::Error(absl::StatusCode::kNotFound, absl::StrCat(name, " does not exist"),
                       "CUSTOMER_NOT_FOUND", {{"name", name}});
}

// A caller who does not reach every row gets PERMISSION_DENIED for a customer they do not reach,
// whether or not it exists (AIP-211).
absl::StatusOr<crm::v1::Customer> Reached(std::optional<crm::v1::Customer> customer,
                                          const std::string& name, const rpc::CallContext& call) {
  const auth::Grant* grant = call.grant.get();
  if (grant != nullptr && !grant->everything()) {
    if (!customer.has_value() || !grant->Reaches(access::HoldersOf(*customer))) {
      return auth::Denied(name);
    }
  }
  if (!customer.has_value()) return CustomerNotFound(name);
  return *std::move(customer);
}

bool Visible(const rpc::CallContext& call, const crm::v1::Customer& customer) {
  return auth::Visible(call.grant.get(), access::HoldersOf(customer));
}

// The filter fields ListCustomers and SearchCustomers share, checked and normalized the one way
// both use: INVALID_ARGUMENT naming the field for an unknown enum value, a malformed owner or tag.
absl::StatusOr<CustomerViews::Filter> ParseFilter(int stage, int tier, const std::string& owner,
                                                  const std::string& tag) {
  CustomerViews::Filter filter;
  if (!crm::v1::LifecycleStage_IsValid(stage)) {
    return status::InvalidArgument("lifecycle_stage", "is not a known lifecycle stage");
  }
  if (!crm::v1::ValueTier_IsValid(tier)) {
    return status::InvalidArgument("value_tier", "is not a known value tier");
  }
  filter.stage = static_cast<crm::v1::LifecycleStage>(stage);
  filter.tier = static_cast<crm::v1::ValueTier>(tier);
  if (!owner.empty()) {
    CRM_RETURN_IF_ERROR(domain::customer::ValidateStaffId(owner, "owner"));
    filter.owner = owner;
  }
  if (!tag.empty()) {
    CRM_ASSIGN_OR_RETURN(filter.tag, domain::customer::NormalizeTag(tag, "tag"));
  }
  return filter;
}

// A search text field (query, region, industry): valid text of at most `max_chars`, folded.
absl::StatusOr<std::string> SearchText(const std::string& text, size_t max_chars,
                                       absl::string_view field) {
  CRM_RETURN_IF_ERROR(domain::ValidateText(text, max_chars, /*required=*/false, field));
  return readmodel::customer::FoldText(text);
}

}  // namespace

absl::Status CustomerQueries::AwaitToken(const std::string& token,
                                         const rpc::CallContext& call) const {
  return query::AwaitConsistencyToken(views_runner_,
                                      {readmodel::customer::kFoldName, readmodel::org::kFoldName},
                                      token, call, options_.max_consistency_wait);
}

crm::v1::Customer CustomerQueries::Answer(crm::v1::Customer customer) const {
  access::FollowOwner(customer, options_.org);
  return customer;
}

absl::StatusOr<crm::v1::Customer> CustomerQueries::Get(const crm::v1::GetCustomerRequest& request,
                                                       const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(request.name(), "name"));
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto customer, views_->Get(id));
  // A merged customer reads as its survivor (proto/crm/v1/README.md, "Merging customers"): the
  // answer is the survivor, whose merged_customers names the customer asked for. Bounded: a chain
  // of merges is followed a few steps at most.
  for (int hop = 0; hop < kMaxMergeHops && customer.has_value() && !customer->merged_into().empty();
       ++hop) {
    CRM_ASSIGN_OR_RETURN(std::string survivor, domain::customer::ParseCustomerName(
                                                   customer->merged_into(), "merged_into"));
    CRM_ASSIGN_OR_RETURN(auto next, views_->Get(survivor));
    if (!next.has_value()) break;  // the survivor's view is behind: answer the merged record
    customer = std::move(next);
  }
  CRM_ASSIGN_OR_RETURN(crm::v1::Customer reached,
                       Reached(std::move(customer), request.name(), call));
  return Answer(std::move(reached));
}

absl::StatusOr<crm::v1::ListCustomersResponse> CustomerQueries::List(
    const crm::v1::ListCustomersRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 50));
  CRM_ASSIGN_OR_RETURN(
      CustomerViews::Filter filter,
      ParseFilter(request.lifecycle_stage(), request.value_tier(), request.owner(), request.tag()));
  filter.show_archived = request.show_archived();
  // Tokens of the default (archived customers left out) read as before show_archived existed.
  const std::string fingerprint =
      absl::StrCat(filter.stage, "|", filter.owner, "|", filter.tier, "|", filter.tag,
                   filter.show_archived ? "|archived" : "");
  std::string after_id;
  if (!request.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(after_id,
                         query::DecodePageToken(request.page_token(), "customers", fingerprint));
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  // Customers the caller does not reach are left out (common/auth/grant.h).
  CRM_ASSIGN_OR_RETURN(
      query::VisiblePage<crm::v1::Customer> page,
      query::FetchVisible<crm::v1::Customer>(
          after_id, page_size,
          [&](const std::string& after,
              size_t n) -> absl::StatusOr<std::pair<std::vector<crm::v1::Customer>, bool>> {
            CRM_ASSIGN_OR_RETURN(CustomerViews::Page batch, views_->List(filter, after, n));
            return std::make_pair(std::move(batch.customers), batch.more);
          },
          [](const crm::v1::Customer& c) {
            return domain::customer::ParseCustomerName(c.name(), "name").value_or("");
          },
          [&](const crm::v1::Customer& c) { return Visible(call, c); }));
  crm::v1::ListCustomersResponse response;
  for (auto& c : page.rows) *response.add_customers() = Answer(std::move(c));
  if (page.more && !page.last_key.empty()) {
    response.set_next_page_token(query::EncodePageToken("customers", fingerprint, page.last_key));
  }
  return response;
}

absl::StatusOr<crm::v1::SearchCustomersResponse> CustomerQueries::Search(
    const crm::v1::SearchCustomersRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 50));
  CRM_ASSIGN_OR_RETURN(
      CustomerViews::Filter filter,
      ParseFilter(request.lifecycle_stage(), request.value_tier(), request.owner(), request.tag()));
  CRM_ASSIGN_OR_RETURN(filter.name_prefix,
                       SearchText(request.query(), domain::customer::kMaxDisplayName, "query"));
  CRM_ASSIGN_OR_RETURN(filter.region,
                       SearchText(request.region(), domain::customer::kMaxShortText, "region"));
  CRM_ASSIGN_OR_RETURN(filter.industry,
                       SearchText(request.industry(), domain::customer::kMaxShortText, "industry"));
  if (!crm::v1::CustomerKind_IsValid(request.kind())) {
    return status::InvalidArgument("kind", "is not a known customer kind");
  }
  filter.kind = request.kind();
  filter.show_archived = request.show_archived();
  // Folded values hold no '\0' (ValidateText refuses control characters), so joining on it is
  // unambiguous. Tokens of the default (archived customers left out) read as before
  // show_archived existed.
  std::vector<std::string> parts = {absl::StrCat(filter.stage),
                                    filter.owner,
                                    absl::StrCat(filter.tier),
                                    filter.tag,
                                    filter.name_prefix,
                                    filter.region,
                                    filter.industry,
                                    absl::StrCat(filter.kind)};
  if (filter.show_archived) parts.push_back("archived");
  const std::string fingerprint = absl::StrJoin(parts, absl::string_view("\0", 1));
  std::string after;
  if (!request.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(after,
                         query::DecodePageToken(request.page_token(), "search", fingerprint));
    if (after.find('\0') == std::string::npos) {
      return status::InvalidArgument("page_token", "is not a page token from this API");
    }
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  // Customers the caller does not reach are left out (common/auth/grant.h) in the same bounded
  // scan that checks the filters, so a page reads at most kMaxScannedPerPage index entries
  // whatever the caller reaches and whatever the filters leave.
  CRM_ASSIGN_OR_RETURN(
      CustomerViews::SearchPage page,
      views_->Search(filter, after, page_size, query::kMaxScannedPerPage,
                     [&](const crm::v1::Customer& c) { return Visible(call, c); }));
  crm::v1::SearchCustomersResponse response;
  for (auto& c : page.customers) *response.add_customers() = Answer(std::move(c));
  if (page.more) {
    response.set_next_page_token(query::EncodePageToken("search", fingerprint, page.cursor));
  }
  return response;
}

absl::StatusOr<crm::v1::FindCustomersResponse> CustomerQueries::Find(
    const crm::v1::FindCustomersRequest& request, const rpc::CallContext& call) const {
  const int keys = !request.email().empty() + !request.phone().empty() +
                   !request.external_id().empty() + request.has_social_id() +
                   !request.contact_email().empty() + !request.contact_phone().empty();
  if (keys != 1) {
    return status::InvalidArgument(
        request.email().empty() ? "email" : "phone",
        "set exactly one of email, phone, external_id, social_id, contact_email and "
        "contact_phone");
  }
  Index index = Index::kEmail;
  std::string value;
  if (!request.email().empty()) {
    CRM_ASSIGN_OR_RETURN(value, domain::customer::NormalizeEmail(request.email(), "email"));
  } else if (!request.phone().empty()) {
    index = Index::kPhone;
    CRM_ASSIGN_OR_RETURN(value, domain::customer::NormalizePhone(request.phone(), "phone"));
  } else if (!request.external_id().empty()) {
    index = Index::kExternalId;
    CRM_RETURN_IF_ERROR(domain::customer::ValidateExternalId(request.external_id(), "external_id"));
    value = request.external_id();
  } else if (request.has_social_id()) {
    index = Index::kSocialId;
    const crm::v1::SocialId& social = request.social_id();
    CRM_RETURN_IF_ERROR(domain::ValidateRequiredEnum(*crm::v1::SocialNetwork_descriptor(),
                                                     social.network(), "social_id.network"));
    CRM_RETURN_IF_ERROR(
        domain::customer::ValidateSocialHandle(social.handle(), "social_id.handle"));
    value = readmodel::customer::SocialIdValue(crm::v1::SocialNetwork_Name(social.network()),
                                               social.handle());
  } else if (!request.contact_email().empty()) {
    index = Index::kContactEmail;
    CRM_ASSIGN_OR_RETURN(
        value, domain::customer::NormalizeEmail(request.contact_email(), "contact_email"));
  } else {
    index = Index::kContactPhone;
    CRM_ASSIGN_OR_RETURN(
        value, domain::customer::NormalizePhone(request.contact_phone(), "contact_phone"));
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto customers, views_->Find(index, value, kMaxFindResults));
  crm::v1::FindCustomersResponse response;
  for (auto& c : customers) {
    if (Visible(call, c)) *response.add_customers() = Answer(std::move(c));
  }
  return response;
}

absl::StatusOr<crm::v1::GetCustomerHistoryResponse> CustomerQueries::History(
    const crm::v1::GetCustomerHistoryRequest& request, const rpc::CallContext& call) const {
  CRM_ASSIGN_OR_RETURN(std::string id, domain::customer::ParseCustomerName(request.name(), "name"));
  CRM_ASSIGN_OR_RETURN(size_t page_size, query::PageSize(request.page_size(), 100));
  int64_t after_version = 0;
  if (!request.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(std::string cursor,
                         query::DecodePageToken(request.page_token(), "history", id));
    if (!absl::SimpleAtoi(cursor, &after_version) || after_version < 0) {
      return status::InvalidArgument("page_token", "is not a page token from this API");
    }
  }
  CRM_RETURN_IF_ERROR(AwaitToken(request.consistency_token(), call));
  CRM_ASSIGN_OR_RETURN(auto customer, views_->Get(id));
  CRM_RETURN_IF_ERROR(Reached(std::move(customer), request.name(), call).status());
  CRM_ASSIGN_OR_RETURN(CustomerViews::HistoryPage page,
                       views_->History(id, after_version, page_size));
  crm::v1::GetCustomerHistoryResponse response;
  for (auto& e : page.events) *response.add_events() = std::move(e);
  if (page.more && !response.events().empty()) {
    response.set_next_page_token(query::EncodePageToken(
        "history", id,
        absl::StrCat(response.events(response.events_size() - 1).aggregate_version())));
  }
  return response;
}

CustomerQueryService::CustomerQueryService(const CustomerQueries* queries, rpc::Executor* executor)
    : rpc::ServiceTable(crm::v1::CustomerQueryService::service_full_name(), executor) {
  SetPreWait(queries->TokenWait());
  Unary("GetCustomer", queries, &CustomerQueries::Get);
  Unary("ListCustomers", queries, &CustomerQueries::List);
  Unary("SearchCustomers", queries, &CustomerQueries::Search);
  Unary("FindCustomers", queries, &CustomerQueries::Find);
  Unary("GetCustomerHistory", queries, &CustomerQueries::History);
  AuditReads(
      {"GetCustomer", "ListCustomers", "SearchCustomers", "FindCustomers", "GetCustomerHistory"});
}

}  // namespace crm::services::customer
