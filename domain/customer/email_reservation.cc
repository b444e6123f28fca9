#include "domain/customer/email_reservation.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "domain/common/event_types.h"

namespace crm::domain::customer {
namespace {

using crm::events::v1::EventEnvelope;

absl::Time ClaimedAt(const ReservationState& state) {
  return absl::FromUnixMicros(state.claimed_at_micros());
}

// The claim and release events of both kinds have the same fields.
template <typename Claim>
void FillClaim(Claim* claim, absl::string_view customer_id, absl::string_view previous,
               int64_t customer_version) {
  claim->set_customer_id(std::string(customer_id));
  claim->set_previous_customer_id(std::string(previous));
  claim->set_customer_version(customer_version);
}

EventEnvelope Claimed(absl::string_view customer_id, absl::string_view previous,
                      int64_t customer_version, ReservedKey kind) {
  EventEnvelope event;
  if (kind == ReservedKey::kExternalId) {
    FillClaim(event.mutable_external_id_claimed(), customer_id, previous, customer_version);
  } else {
    FillClaim(event.mutable_email_claimed(), customer_id, previous, customer_version);
  }
  return event;
}

template <typename Claim>
absl::Status ApplyClaim(ReservationState& state, const Claim& claim, const EventEnvelope& event) {
  if (claim.customer_id().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(event.event_type(), " without a customer id"));
  }
  state.set_holder(claim.customer_id());
  state.set_claimed_at_micros(absl::ToUnixMicros(base::ToTime(event.recorded_at())));
  state.set_holder_version(claim.customer_version());
  return absl::OkStatus();
}

template <typename Release>
void ApplyRelease(ReservationState& state, const Release& released) {
  if (state.holder() == released.customer_id() &&
      state.holder_version() < released.customer_version()) {
    state.Clear();
  }
}

}  // namespace

std::string ReservationName(absl::string_view normalized_email) {
  return absl::StrCat("emailReservations/",
                      base::UuidFromName(absl::StrCat("crm.email/", normalized_email)));
}

std::string ExternalIdReservationName(absl::string_view external_id) {
  return absl::StrCat("externalIdReservations/",
                      base::UuidFromName(absl::StrCat("crm.externalId/", external_id)));
}

std::string ReservationName(ReservedKey kind, absl::string_view key) {
  return kind == ReservedKey::kExternalId ? ExternalIdReservationName(key) : ReservationName(key);
}

bool IsReservationEvent(const EventEnvelope& event) {
  return event.has_email_claimed() || event.has_email_released() ||
         event.has_external_id_claimed() || event.has_external_id_released() ||
         // A type this build does not know belongs to the aggregate it names.
         (IsUnknownEventType(event) &&
          (absl::StartsWith(event.aggregate(), "emailReservations/") ||
           absl::StartsWith(event.aggregate(), "externalIdReservations/")));
}

absl::Time UsableUntil(const ReservationState& state) {
  return ClaimedAt(state) + kClaimLease - kClaimUseMargin;
}

absl::StatusOr<std::vector<EventEnvelope>> DecideClaim(const ReservationState& state,
                                                       absl::string_view customer_id,
                                                       int64_t customer_version,
                                                       const ClaimContext& context,
                                                       ReservedKey kind) {
  std::vector<EventEnvelope> out;
  if (state.holder().empty()) {
    out.push_back(Claimed(customer_id, "", customer_version, kind));
    return out;
  }
  if (state.holder() == customer_id) {
    if (state.holder_version() != customer_version || context.now >= UsableUntil(state)) {
      out.push_back(Claimed(customer_id, "", customer_version, kind));  // renew
    }
    return out;
  }
  // Held by a customer merged into the claimant: the survivor takes it over.
  if (context.survivor_of) {
    absl::StatusOr<std::string> survivor = context.survivor_of(state.holder());
    if (!survivor.ok()) return survivor.status();
    if (*survivor == customer_id) {
      out.push_back(Claimed(customer_id, state.holder(), customer_version, kind));
      return out;
    }
  }
  // Another customer holds it: taken, unless its claim lapsed.
  if (context.now < ClaimedAt(state) + kClaimLease) return out;
  absl::StatusOr<bool> has = context.holds_address(state.holder());
  if (!has.ok()) return has.status();
  if (!*has) out.push_back(Claimed(customer_id, state.holder(), customer_version, kind));
  return out;
}

std::vector<EventEnvelope> DecideRelease(const ReservationState& state,
                                         absl::string_view customer_id, int64_t customer_version,
                                         ReservedKey kind) {
  std::vector<EventEnvelope> out;
  if (state.holder().empty() || state.holder() != customer_id ||
      state.holder_version() >= customer_version) {
    return out;
  }
  EventEnvelope event;
  if (kind == ReservedKey::kExternalId) {
    event.mutable_external_id_released()->set_customer_id(std::string(customer_id));
    event.mutable_external_id_released()->set_customer_version(customer_version);
  } else {
    event.mutable_email_released()->set_customer_id(std::string(customer_id));
    event.mutable_email_released()->set_customer_version(customer_version);
  }
  out.push_back(std::move(event));
  return out;
}

absl::Status ApplyReservation(ReservationState& state, const EventEnvelope& event) {
  if (event.has_email_claimed()) return ApplyClaim(state, event.email_claimed(), event);
  if (event.has_external_id_claimed()) return ApplyClaim(state, event.external_id_claimed(), event);
  if (event.has_email_released()) {
    ApplyRelease(state, event.email_released());
    return absl::OkStatus();
  }
  if (event.has_external_id_released()) {
    ApplyRelease(state, event.external_id_released());
    return absl::OkStatus();
  }
  if (IsUnknownEventType(event)) return absl::OkStatus();  // a newer writer's type: skipped
  return absl::FailedPreconditionError(
      absl::StrCat("not a reservation event: ", event.event_type()));
}

}  // namespace crm::domain::customer
