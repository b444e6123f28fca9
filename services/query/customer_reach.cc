#include "services/query/customer_reach.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "services/access/holders.h"

namespace crm::services::query {

absl::Status CheckCustomer(const readmodel::customer::CustomerViews& customers,
                           absl::string_view id, absl::string_view parent,
                           const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(auto customer, customers.Get(id));
  const auth::Grant* grant = call.grant.get();
  if (grant != nullptr && !grant->everything() &&
      (!customer.has_value() || !grant->Reaches(access::HoldersOf(*customer)))) {
    return auth::Denied(parent);
  }
  if (customer.has_value()) return absl::OkStatus();
  return status::Error(absl::StatusCode::kNotFound, absl::StrCat(parent, " does not exist"),
                       "CUSTOMER_NOT_FOUND", {{"name", std::string(parent)}});
}

}  // namespace crm::services::query
