#include "services/customer/child_lookups.h"

#include "services/customer/customer_kind.h"

namespace crm::services::customer {

ChildLookups LookupsFor(command::CommandExecutor* executor, const org::StaffDirectory* staff,
                        const rpc::CallContext& call) {
  ChildLookups lookups;
  lookups.customer_exists = [executor, &call](absl::string_view id) -> absl::StatusOr<bool> {
    auto found = FindCustomer(executor, id, call.deadline);
    if (!found.ok()) return found.status();
    return found->version > 0;
  };
  lookups.customer_tier = [executor,
                           &call](absl::string_view id) -> absl::StatusOr<crm::v1::ValueTier> {
    auto found = FindCustomer(executor, id, call.deadline);
    if (!found.ok()) return found.status();
    return found->state.value_tier();
  };
  lookups.staff = [staff, &call](absl::string_view staff_id,
                                 absl::string_view field) -> absl::StatusOr<crm::v1::StaffRef> {
    absl::StatusOr<crm::v1::Staff> found = staff->Find(staff_id, field, call.deadline);
    if (!found.ok()) return found.status();
    return org::StaffDirectory::RefOf(*found);
  };
  return lookups;
}

}  // namespace crm::services::customer
