// The timeline's view of an event: which kind of entry it makes, when and about which resource.
// Facts only: the entry's text is rendered when the timeline is read, in the caller's language
// (services/interaction/timeline_text.h). Deterministic (a function of the event alone), so
// rebuilt views are identical.
// Thread-safe: pure functions.
#pragma once

#include <optional>

#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/interaction_service.pb.h"

namespace crm::projections::interaction {

// The timeline entry `event` makes: time (occurred_at, else recorded_at), kind, resource and
// the event (no summary); nullopt for events that are not on the timeline (and for those
// without a customer id).
std::optional<crm::v1::TimelineEntry> TimelineEntryFor(const crm::events::v1::EventEnvelope& event);

}  // namespace crm::projections::interaction
