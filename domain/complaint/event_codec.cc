#include "domain/complaint/event_codec.h"

namespace crm::domain::complaint {

namespace ev = crm::events::v1;

CRM_SAME_ENUM_RANGE(crm::v1::ComplaintCategory, ev::ComplaintCategory);
CRM_SAME_ENUM_RANGE(crm::v1::ComplaintSeverity, ev::ComplaintSeverity);
CRM_SAME_ENUM_RANGE(crm::v1::RootCause, ev::RootCause);
CRM_SAME_ENUM_RANGE(crm::v1::SlaKind, ev::SlaKind);

ev::FollowUpVisit ToEvent(const crm::v1::FollowUpVisit& visit) {
  ev::FollowUpVisit out;
  out.set_satisfied(visit.satisfied());
  out.set_csat(visit.csat());
  out.set_comment(visit.comment());
  if (visit.has_visit_time()) *out.mutable_visit_time() = visit.visit_time();
  return out;
}

crm::v1::FollowUpVisit ToApi(const ev::FollowUpVisit& visit) {
  crm::v1::FollowUpVisit out;
  out.set_satisfied(visit.satisfied());
  out.set_csat(visit.csat());
  out.set_comment(visit.comment());
  if (visit.has_visit_time()) *out.mutable_visit_time() = visit.visit_time();
  return out;
}

ev::ComplaintCategory ToEvent(crm::v1::ComplaintCategory category) {
  return EnumByNumber<ev::ComplaintCategory>(category);
}
crm::v1::ComplaintCategory ToApi(ev::ComplaintCategory category) {
  return EnumByNumber<crm::v1::ComplaintCategory>(category);
}

ev::ComplaintSeverity ToEvent(crm::v1::ComplaintSeverity severity) {
  return EnumByNumber<ev::ComplaintSeverity>(severity);
}
crm::v1::ComplaintSeverity ToApi(ev::ComplaintSeverity severity) {
  return EnumByNumber<crm::v1::ComplaintSeverity>(severity);
}

ev::RootCause ToEvent(crm::v1::RootCause cause) { return EnumByNumber<ev::RootCause>(cause); }
crm::v1::RootCause ToApi(ev::RootCause cause) { return EnumByNumber<crm::v1::RootCause>(cause); }

ev::SlaKind ToEvent(crm::v1::SlaKind kind) { return EnumByNumber<ev::SlaKind>(kind); }
crm::v1::SlaKind ToApi(ev::SlaKind kind) { return EnumByNumber<crm::v1::SlaKind>(kind); }

}  // namespace crm::domain::complaint
