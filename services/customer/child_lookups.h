// The lookups the rules of a customer's child aggregate (an interaction, a survey) are given by
// its command handler: does the customer exist, its value tier now, and the reference of an
// active staff member. Each syncs its stream once before saying "unknown" (FindCustomer, the
// StaffDirectory), so an aggregate created a moment ago through another replica is seen.
// Thread-safe as the executor; the functions hold `call` by reference: use them within the call.
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/rpc/unary.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/org.pb.h"
#include "services/command/command_executor.h"
#include "services/org/staff_directory.h"

namespace crm::services::customer {

struct ChildLookups {
  std::function<absl::StatusOr<bool>(absl::string_view customer_id)> customer_exists;
  std::function<absl::StatusOr<crm::v1::ValueTier>(absl::string_view customer_id)> customer_tier;
  // NOT_FOUND / FAILED_PRECONDITION naming `field` for an unknown / deactivated staff member.
  std::function<absl::StatusOr<crm::v1::StaffRef>(absl::string_view staff_id,
                                                  absl::string_view field)>
      staff;

  // Sets the same-named lookups of a decide context (interaction, survey, ... DecideContext).
  template <typename Context>
  void FillInto(Context& context) const {
    context.customer_exists = customer_exists;
    context.customer_tier = customer_tier;
    context.staff = staff;
  }
};

// Does not take ownership; `executor`, `staff` and `call` must outlive the functions.
ChildLookups LookupsFor(command::CommandExecutor* executor, const org::StaffDirectory* staff,
                        const rpc::CallContext& call);

}  // namespace crm::services::customer
