// Events of a type this build does not know, as every reader (the command state and each view)
// tells them apart. The rule is in proto/crm/events/v1/README.md ("Readers"): such an event was
// written by a newer writer; a reader advances the event's aggregate version over it (so the
// aggregate's version chain never breaks), counts it and otherwise skips it.
// Thread-safe: pure functions.
#pragma once

#include "crm/events/v1/envelope.pb.h"

namespace crm::domain {

// True if `event` has no payload set and its event_type is set but names none of the payload
// messages this build has: a type added after this build. (No payload and an empty or known
// event_type is a damaged record, not an unknown type.)
bool IsUnknownEventType(const crm::events::v1::EventEnvelope& event);

}  // namespace crm::domain
