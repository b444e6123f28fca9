#include "domain/interaction/event_codec.h"

namespace crm::domain::interaction {

namespace ev = crm::events::v1;

CRM_SAME_ENUM_RANGE(crm::v1::Direction, ev::Direction);

ev::LoggedInteraction ToEvent(const crm::v1::Interaction& interaction) {
  ev::LoggedInteraction out;
  out.set_name(interaction.name());
  out.set_channel(ToEvent(interaction.channel()));
  out.set_direction(ToEvent(interaction.direction()));
  out.set_staff_id(interaction.staff_id());
  if (interaction.has_occurred_at()) *out.mutable_occurred_at() = interaction.occurred_at();
  out.set_summary(interaction.summary());
  out.set_outcome(interaction.outcome());
  if (interaction.has_follow_up_due_time()) {
    *out.mutable_follow_up_due_time() = interaction.follow_up_due_time();
  }
  out.set_complaint(interaction.complaint());
  return out;
}

crm::v1::Interaction ToApi(const ev::LoggedInteraction& interaction) {
  crm::v1::Interaction out;
  out.set_name(interaction.name());
  out.set_channel(ToApi(interaction.channel()));
  out.set_direction(ToApi(interaction.direction()));
  out.set_staff_id(interaction.staff_id());
  if (interaction.has_occurred_at()) *out.mutable_occurred_at() = interaction.occurred_at();
  out.set_summary(interaction.summary());
  out.set_outcome(interaction.outcome());
  if (interaction.has_follow_up_due_time()) {
    *out.mutable_follow_up_due_time() = interaction.follow_up_due_time();
  }
  out.set_complaint(interaction.complaint());
  return out;
}

ev::Direction ToEvent(crm::v1::Direction direction) {
  return EnumByNumber<ev::Direction>(direction);
}
crm::v1::Direction ToApi(ev::Direction direction) {
  return EnumByNumber<crm::v1::Direction>(direction);
}

}  // namespace crm::domain::interaction
