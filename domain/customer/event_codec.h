// Conversions between the API (crm.v1) and the event contract (crm.events.v1) for the customer
// area: the profile, purchases and money, and the customer enums. The one place where customer
// events are built from API types (Decide*) and read back into the state (Apply) or a view.
//
// The profile keeps only what the events record: ToEvent drops every crm.v1.Customer field that
// is not a profile field (name, lifecycle stage, owner, tags, figures, version, etag, times).
// Enums convert by number (see domain/common/event_codec.h). Thread-safe: pure functions.
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/events/v1/customer_events.pb.h"
#include "crm/v1/customer.pb.h"
#include "domain/common/event_codec.h"

namespace crm::domain::customer {

using crm::domain::ToApi;
using crm::domain::ToEvent;

// The profile fields of `customer` (display_name, kind, emails, phones, region, industry,
// acquisition_source, attributes, external_id, addresses, social_ids), as they are.
crm::events::v1::CustomerProfile ToEvent(const crm::v1::Customer& customer);
// A crm.v1.Customer with only the profile fields set.
crm::v1::Customer ToApi(const crm::events::v1::CustomerProfile& profile);

crm::events::v1::Purchase ToEvent(const crm::v1::Purchase& purchase);
crm::v1::Purchase ToApi(const crm::events::v1::Purchase& purchase);

crm::events::v1::Money ToEvent(const crm::v1::Money& money);
crm::v1::Money ToApi(const crm::events::v1::Money& money);

crm::events::v1::CustomerKind ToEvent(crm::v1::CustomerKind kind);
crm::v1::CustomerKind ToApi(crm::events::v1::CustomerKind kind);

crm::events::v1::LifecycleStage ToEvent(crm::v1::LifecycleStage stage);
crm::v1::LifecycleStage ToApi(crm::events::v1::LifecycleStage stage);

crm::events::v1::ValueTier ToEvent(crm::v1::ValueTier tier);
crm::v1::ValueTier ToApi(crm::events::v1::ValueTier tier);

// Postal addresses, social ids and contact persons, field by field.
crm::events::v1::PostalAddress ToEvent(const crm::v1::PostalAddress& address);
crm::v1::PostalAddress ToApi(const crm::events::v1::PostalAddress& address);
crm::events::v1::SocialId ToEvent(const crm::v1::SocialId& id);
crm::v1::SocialId ToApi(const crm::events::v1::SocialId& id);
crm::events::v1::ContactPerson ToEvent(const crm::v1::ContactPerson& person);
crm::v1::ContactPerson ToApi(const crm::events::v1::ContactPerson& person);

// The value tier of `customer_id` to record in an event that stamps it (InteractionLogged,
// SurveySent): `lookup`'s answer, VALUE_TIER_UNSPECIFIED when there is no lookup or its answer is
// not a known tier; the lookup's error passed through.
absl::StatusOr<crm::events::v1::ValueTier> TierToRecord(
    const std::function<absl::StatusOr<crm::v1::ValueTier>(absl::string_view)>& lookup,
    absl::string_view customer_id);

crm::events::v1::AcquisitionSource ToEvent(crm::v1::AcquisitionSource source);
crm::v1::AcquisitionSource ToApi(crm::events::v1::AcquisitionSource source);

}  // namespace crm::domain::customer
