// Conversions between the API (crm.v1) and the event contract (crm.events.v1) for the interaction
// area: the interaction as logged and its Direction (StaffRef and Channel: domain/common). The
// one place where interaction events are built from API types (Decide*) and read back (Apply,
// views).
//
// The logged interaction keeps only what InteractionLogged records: ToEvent drops the follow-up's
// completion (FollowUpCompleted records it) and the output-only fields (version, etag, times).
// Enums convert by number (see domain/common/event_codec.h). Thread-safe: pure functions.
#pragma once

#include "crm/events/v1/interaction_events.pb.h"
#include "crm/v1/interaction.pb.h"
#include "domain/common/event_codec.h"

namespace crm::domain::interaction {

using crm::domain::ToApi;
using crm::domain::ToEvent;

crm::events::v1::LoggedInteraction ToEvent(const crm::v1::Interaction& interaction);
// A crm.v1.Interaction with only the logged fields set.
crm::v1::Interaction ToApi(const crm::events::v1::LoggedInteraction& interaction);

crm::events::v1::Direction ToEvent(crm::v1::Direction direction);
crm::v1::Direction ToApi(crm::events::v1::Direction direction);

}  // namespace crm::domain::interaction
