#include "domain/org/org_rules.h"

namespace crm::domain::org {

bool MayOwnCustomers(crm::v1::StaffRole role) {
  switch (role) {
    case crm::v1::ACCOUNT_MANAGER:
    case crm::v1::CUSTOMER_REPRESENTATIVE:
    case crm::v1::SUPERVISOR:
    case crm::v1::MANAGER:
      return true;
    default:
      return false;
  }
}

bool MayHandleComplaints(crm::v1::StaffRole role) {
  switch (role) {
    case crm::v1::SERVICE_AGENT:
    case crm::v1::CUSTOMER_REPRESENTATIVE:
    case crm::v1::SUPERVISOR:
    case crm::v1::MANAGER:
      return true;
    default:
      return false;
  }
}

}  // namespace crm::domain::org
