#include "domain/org/event_codec.h"

namespace crm::domain::org {

namespace ev = crm::events::v1;

CRM_SAME_ENUM_RANGE(crm::v1::DepartmentFunction, ev::DepartmentFunction);
CRM_SAME_ENUM_RANGE(crm::v1::StaffRole, ev::StaffRole);
CRM_SAME_ENUM_RANGE(crm::v1::StaffLevel, ev::StaffLevel);

ev::DepartmentProfile ToEvent(const crm::v1::Department& department) {
  ev::DepartmentProfile out;
  out.set_name(department.name());
  out.set_display_name(department.display_name());
  out.set_function(ToEvent(department.function()));
  out.set_head(department.head());
  return out;
}

crm::v1::Department ToApi(const ev::DepartmentProfile& department) {
  crm::v1::Department out;
  out.set_name(department.name());
  out.set_display_name(department.display_name());
  out.set_function(ToApi(department.function()));
  out.set_head(department.head());
  return out;
}

ev::TeamProfile ToEvent(const crm::v1::Team& team) {
  ev::TeamProfile out;
  out.set_name(team.name());
  out.set_display_name(team.display_name());
  out.set_department(team.department());
  out.set_lead(team.lead());
  return out;
}

crm::v1::Team ToApi(const ev::TeamProfile& team) {
  crm::v1::Team out;
  out.set_name(team.name());
  out.set_display_name(team.display_name());
  out.set_department(team.department());
  out.set_lead(team.lead());
  return out;
}

ev::StaffProfile ToEvent(const crm::v1::Staff& staff) {
  ev::StaffProfile out;
  out.set_name(staff.name());
  out.set_display_name(staff.display_name());
  out.set_email(staff.email());
  out.set_role(ToEvent(staff.role()));
  out.set_level(ToEvent(staff.level()));
  out.set_department(staff.department());
  out.set_team(staff.team());
  out.set_manager(staff.manager());
  out.set_active(staff.active());
  return out;
}

crm::v1::Staff ToApi(const ev::StaffProfile& staff) {
  crm::v1::Staff out;
  out.set_name(staff.name());
  out.set_display_name(staff.display_name());
  out.set_email(staff.email());
  out.set_role(ToApi(staff.role()));
  out.set_level(ToApi(staff.level()));
  out.set_department(staff.department());
  out.set_team(staff.team());
  out.set_manager(staff.manager());
  out.set_active(staff.active());
  return out;
}

ev::DepartmentFunction ToEvent(crm::v1::DepartmentFunction function) {
  return EnumByNumber<ev::DepartmentFunction>(function);
}
crm::v1::DepartmentFunction ToApi(ev::DepartmentFunction function) {
  return EnumByNumber<crm::v1::DepartmentFunction>(function);
}

ev::StaffRole ToEvent(crm::v1::StaffRole role) { return EnumByNumber<ev::StaffRole>(role); }
crm::v1::StaffRole ToApi(ev::StaffRole role) { return EnumByNumber<crm::v1::StaffRole>(role); }

ev::StaffLevel ToEvent(crm::v1::StaffLevel level) { return EnumByNumber<ev::StaffLevel>(level); }
crm::v1::StaffLevel ToApi(ev::StaffLevel level) { return EnumByNumber<crm::v1::StaffLevel>(level); }

}  // namespace crm::domain::org
