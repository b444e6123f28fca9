// The check every query on a customer's rows starts with (a customer's interactions, surveys):
// the customer exists in the views, and the caller reaches it.
// Thread-safe: pure function over a thread-safe reader.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/rpc/unary.h"
#include "readmodel/customer/customer_views.h"

namespace crm::services::query {

// NOT_FOUND (reason CUSTOMER_NOT_FOUND) if customer `id` (resource name `parent`) is not in the
// views; PERMISSION_DENIED instead, whether or not it exists, to a caller who does not reach it
// (common/auth/grant.h).
absl::Status CheckCustomer(const readmodel::customer::CustomerViews& customers,
                           absl::string_view id, absl::string_view parent,
                           const rpc::CallContext& call);

}  // namespace crm::services::query
