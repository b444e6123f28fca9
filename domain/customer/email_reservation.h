// E-mail reservations: pure decide/apply for the aggregate that makes an e-mail address belong to
// at most one customer, across every crm-command replica.
//
// Why an aggregate: a customer's events are written by the replica that owns the customer's
// partition, so two replicas registering two customers with one address cannot see each other's
// command in time. Every normalized address has one reservation aggregate,
// "emailReservations/{digest}", written only by the replica that owns ITS partition; a customer
// claims each address there before the customer command that sets it. Claims of one address are
// thus serialized by one writer.
//
// A claim is made for one version of the claimant: the version its command decides on (the
// command fails if the customer moved on meanwhile). An update that removes the address releases
// it, naming the customer's version after the removal: only a claim made before that version is
// released, so a later claim (the address added back) survives a late release.
//
// A claim whose holder does not have the address in its customer state and that was never
// released (the command that claimed it failed; a crash between removal and release) lapses: the
// next claimant takes it over once it is older than kClaimLease. A claimant uses its claim only
// while it is younger than kClaimLease - kClaimUseMargin (its command's append deadline is capped
// there), so a takeover never meets a command still using the old claim; an older claim of the
// claimant is renewed first.
//
// External ids (crm.v1.Customer.external_id) are reserved the same way, on aggregates
// "externalIdReservations/{digest}" with ExternalIdClaimed / ExternalIdReleased: every function
// here takes the kind of key it reserves.
//
// Thread-safe: pure functions.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/internal/v1/command_state.pb.h"

namespace crm::domain::customer {

using ReservationState = crm::internal::v1::EmailReservation;

inline constexpr absl::Duration kClaimLease = absl::Seconds(60);
inline constexpr absl::Duration kClaimUseMargin = absl::Seconds(20);

// What a reservation reserves.
enum class ReservedKey { kEmail, kExternalId };

// "emailReservations/{digest}" for a normalized address; the digest is a name-based UUID of it, so
// no personal data appears in log keys, aggregate names or headers.
std::string ReservationName(absl::string_view normalized_email);
// "externalIdReservations/{digest}" for an external id, likewise.
std::string ExternalIdReservationName(absl::string_view external_id);
// The reservation aggregate of `key` of kind `kind`.
std::string ReservationName(ReservedKey kind, absl::string_view key);

// Whether the event is a reservation event (EmailClaimed, EmailReleased, ExternalIdClaimed,
// ExternalIdReleased).
bool IsReservationEvent(const crm::events::v1::EventEnvelope& event);

struct ClaimContext {
  absl::Time now;
  // Whether customer `customer_id` has the address in its (command) state now.
  std::function<absl::StatusOr<bool>(absl::string_view customer_id)> holds_address;
  // The id of the customer `customer_id` was merged into, empty if it was not merged. Null: no
  // merges are looked at.
  std::function<absl::StatusOr<std::string>(absl::string_view customer_id)> survivor_of;
};

// The events of a claim of the address by `customer_id` at `customer_version`: EmailClaimed if
// the address is free, or held by a lapsed claim (see above), or held by the claimant for another
// version or with too little lease left (a renewal); nothing if the claimant holds a usable claim
// for that version, or if another customer holds it (the state then names the holder).
// The events are EmailClaimed or ExternalIdClaimed, by `kind`.
absl::StatusOr<std::vector<crm::events::v1::EventEnvelope>> DecideClaim(
    const ReservationState& state, absl::string_view customer_id, int64_t customer_version,
    const ClaimContext& context, ReservedKey kind = ReservedKey::kEmail);

// EmailReleased (ExternalIdReleased) if `customer_id` holds the key by a claim made before
// `customer_version`.
std::vector<crm::events::v1::EventEnvelope> DecideRelease(const ReservationState& state,
                                                          absl::string_view customer_id,
                                                          int64_t customer_version,
                                                          ReservedKey kind = ReservedKey::kEmail);

// The state after a stamped reservation event.
absl::Status ApplyReservation(ReservationState& state, const crm::events::v1::EventEnvelope& event);

// Until when the holder may use its claim without having the address in its state yet.
absl::Time UsableUntil(const ReservationState& state);

}  // namespace crm::domain::customer
