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

EventEnvelope Claimed(absl::string_view customer_id, absl::string_view previous,
                      int64_t customer_version) {
  EventEnvelope event;
  event.mutable_email_claimed()->set_customer_id(std::string(customer_id));
  event.mutable_email_claimed()->set_previous_customer_id(std::string(previous));
  event.mutable_email_claimed()->set_customer_version(customer_version);
  return event;
}

}  // namespace

std::string ReservationName(absl::string_view normalized_email) {
  return absl::StrCat("emailReservations/",
                      base::UuidFromName(absl::StrCat("crm.email/", normalized_email)));
}

bool IsReservationEvent(const EventEnvelope& event) {
  return event.has_email_claimed() || event.has_email_released() ||
         // A type this build does not know belongs to the aggregate it names.
         (IsUnknownEventType(event) && absl::StartsWith(event.aggregate(), "emailReservations/"));
}

absl::Time UsableUntil(const ReservationState& state) {
  return ClaimedAt(state) + kClaimLease - kClaimUseMargin;
}

absl::StatusOr<std::vector<EventEnvelope>> DecideClaim(const ReservationState& state,
                                                       absl::string_view customer_id,
                                                       int64_t customer_version,
                                                       const ClaimContext& context) {
  std::vector<EventEnvelope> out;
  if (state.holder().empty()) {
    out.push_back(Claimed(customer_id, "", customer_version));
    return out;
  }
  if (state.holder() == customer_id) {
    if (state.holder_version() != customer_version || context.now >= UsableUntil(state)) {
      out.push_back(Claimed(customer_id, "", customer_version));  // renew
    }
    return out;
  }
  // Held by a customer merged into the claimant: the survivor takes it over.
  if (context.survivor_of) {
    absl::StatusOr<std::string> survivor = context.survivor_of(state.holder());
    if (!survivor.ok()) return survivor.status();
    if (*survivor == customer_id) {
      out.push_back(Claimed(customer_id, state.holder(), customer_version));
      return out;
    }
  }
  // Another customer holds it: taken, unless its claim lapsed.
  if (context.now < ClaimedAt(state) + kClaimLease) return out;
  absl::StatusOr<bool> has = context.holds_address(state.holder());
  if (!has.ok()) return has.status();
  if (!*has) out.push_back(Claimed(customer_id, state.holder(), customer_version));
  return out;
}

std::vector<EventEnvelope> DecideRelease(const ReservationState& state,
                                         absl::string_view customer_id, int64_t customer_version) {
  std::vector<EventEnvelope> out;
  if (state.holder().empty() || state.holder() != customer_id ||
      state.holder_version() >= customer_version) {
    return out;
  }
  EventEnvelope event;
  event.mutable_email_released()->set_customer_id(std::string(customer_id));
  event.mutable_email_released()->set_customer_version(customer_version);
  out.push_back(std::move(event));
  return out;
}

absl::Status ApplyReservation(ReservationState& state, const EventEnvelope& event) {
  if (event.has_email_claimed()) {
    if (event.email_claimed().customer_id().empty()) {
      return absl::FailedPreconditionError("EmailClaimed without a customer id");
    }
    state.set_holder(event.email_claimed().customer_id());
    state.set_claimed_at_micros(absl::ToUnixMicros(base::ToTime(event.recorded_at())));
    state.set_holder_version(event.email_claimed().customer_version());
    return absl::OkStatus();
  }
  if (event.has_email_released()) {
    const auto& released = event.email_released();
    if (state.holder() == released.customer_id() &&
        state.holder_version() < released.customer_version()) {
      state.Clear();
    }
    return absl::OkStatus();
  }
  if (IsUnknownEventType(event)) return absl::OkStatus();  // a newer writer's type: skipped
  return absl::FailedPreconditionError(
      absl::StrCat("not a reservation event: ", event.event_type()));
}

}  // namespace crm::domain::customer
