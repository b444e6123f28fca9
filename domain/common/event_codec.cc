#include "domain/common/event_codec.h"

namespace crm::domain {

CRM_SAME_ENUM_RANGE(crm::v1::Channel, crm::events::v1::Channel);

crm::events::v1::StaffRef ToEvent(const crm::v1::StaffRef& ref) {
  crm::events::v1::StaffRef out;
  out.set_staff_id(ref.staff_id());
  out.set_team(ref.team());
  out.set_department(ref.department());
  return out;
}

crm::v1::StaffRef ToApi(const crm::events::v1::StaffRef& ref) {
  crm::v1::StaffRef out;
  out.set_staff_id(ref.staff_id());
  out.set_team(ref.team());
  out.set_department(ref.department());
  return out;
}

crm::events::v1::Channel ToEvent(crm::v1::Channel channel) {
  return EnumByNumber<crm::events::v1::Channel>(channel);
}

crm::v1::Channel ToApi(crm::events::v1::Channel channel) {
  return EnumByNumber<crm::v1::Channel>(channel);
}

}  // namespace crm::domain
