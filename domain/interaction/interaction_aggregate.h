// The interaction aggregate (客户互动与沟通, DOMAIN.md section 3): pure decide/apply functions.
//
//   Decide*(state, request, context) -> the events the command produces, or why it is refused.
//   Apply(state, event)              -> the state after the event.
//
// An interaction is its own aggregate ("customers/{cid}/interactions/{id}") in its customer's
// stream: InteractionLogged (always its first event) and FollowUpCompleted. No I/O and no clock
// of their own: the time and the lookups of other aggregates (customer, staff member, complaint)
// come in through DecideContext, so every rule is unit-tested directly and folds are
// deterministic.
//
// State: a crm.v1.Interaction; version 0 (the default instance) means "does not exist". Decided
// events carry only their payload (and occurred_at: the interaction's occurred_at for
// InteractionLogged); the command executor stamps ids, versions, times and metadata.
//
// The rules are documented for API users in proto/crm/v1/README.md, section "Interactions".
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status/etag.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/interaction.pb.h"
#include "crm/v1/interaction_service.pb.h"
#include "crm/v1/org.pb.h"

namespace crm::domain::interaction {

using Event = crm::events::v1::EventEnvelope;
using Events = std::vector<Event>;
using State = crm::v1::Interaction;

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxSummary = 2000;
inline constexpr size_t kMaxOutcome = 2000;
inline constexpr size_t kMaxNote = 2000;
// How far after the command's time an interaction's occurred_at may be: clock skew allowance
// (and a meeting logged the evening before). Same allowance as purchases.
inline constexpr absl::Duration kMaxOccurredFutureSkew = absl::Hours(24);

struct DecideContext {
  // The time the command is decided at (recorded_at of its events).
  absl::Time now;
  // Whether customer `customer_id` exists. Required by DecideLogInteraction.
  std::function<absl::StatusOr<bool>(absl::string_view customer_id)> customer_exists;
  // The reference of an active staff member, as services/org StaffDirectory::Find + RefOf give
  // it: NOT_FOUND naming `field` if unknown, FAILED_PRECONDITION naming `field` if deactivated,
  // other codes for lookup trouble. Required by both commands.
  std::function<absl::StatusOr<crm::v1::StaffRef>(absl::string_view staff_id,
                                                  absl::string_view field)>
      staff;
  // Whether the complaint with resource name `complaint` exists. Required by
  // DecideLogInteraction when the request links a complaint.
  std::function<absl::StatusOr<bool>(absl::string_view complaint)> complaint_exists;
  // The value tier of customer `customer_id` now, recorded in InteractionLogged (the follow-up's
  // priority in work queues). Optional: none records VALUE_TIER_UNSPECIFIED.
  std::function<absl::StatusOr<crm::v1::ValueTier>(absl::string_view customer_id)> customer_tier;
};

// Every Decide* checks, in this order: request fields (INVALID_ARGUMENT listing every bad field
// path, e.g. "interaction.summary"; a malformed etag is a bad field too), existence (NOT_FOUND /
// ALREADY_EXISTS), the etag (ABORTED if stale), then business rules and lookups
// (FAILED_PRECONDITION, NOT_FOUND of a referenced staff member or complaint).

// `interaction_id` is the id to log under (already chosen: from the request, derived from its
// request_id, or generated). Checks, after the fields: the parent customer exists (NOT_FOUND,
// reason CUSTOMER_NOT_FOUND), the interaction does not (ALREADY_EXISTS, reason
// INTERACTION_ALREADY_EXISTS), the staff member is known and active (context.staff), the linked
// complaint exists (NOT_FOUND, reason COMPLAINT_NOT_FOUND, metadata field
// "interaction.complaint"). One InteractionLogged, stamped with the staff member's StaffRef and
// with envelope occurred_at = the interaction's occurred_at.
absl::StatusOr<Events> DecideLogInteraction(const State& state,
                                            const crm::v1::LogInteractionRequest& request,
                                            absl::string_view interaction_id,
                                            const DecideContext& context);

// FAILED_PRECONDITION (reason NO_FOLLOW_UP) if the interaction has no follow_up_due_time,
// (reason FOLLOW_UP_ALREADY_COMPLETE) if it is already complete. The follow-up is credited to
// request.staff_id if set (must be known and active: context.staff), else to the interaction's
// staff member (with their current team and department; only the id if they have since been
// deactivated or are unknown). complete_time = context.now.
absl::StatusOr<Events> DecideCompleteFollowUp(const State& state,
                                              const crm::v1::CompleteFollowUpRequest& request,
                                              const DecideContext& context);

// The deadline watcher's reminder: FollowUpDueSoon (occurred_at = due time - lead) while the
// follow-up is not complete, not yet reminded, due at `due` (its follow_up_due_time) and due
// within `lead` but not yet passed (due - lead <= now <= due). No events otherwise, so running it
// again records nothing. NOT_FOUND if the interaction does not exist (`name` names it);
// INVALID_ARGUMENT for a lead that is not positive.
absl::StatusOr<Events> DecideRemindFollowUp(const State& state, absl::string_view name,
                                            absl::Time due, absl::Duration lead, absl::Time now);

// Applies a stamped event of this interaction. REQUIRES the event's aggregate_version ==
// state.version() + 1, its aggregate to be an interaction name (the state's own once it
// exists) whose customer is the envelope's customer_id, InteractionLogged first and only first
// (FAILED_PRECONDITION otherwise, state untouched); DATA_LOSS for an envelope without payload.
// Sets name, version, etag "v<version>", create_time (first event) and update_time from the
// envelope's recorded_at, and the payload's fields.
absl::Status Apply(State& state, const Event& event);

// The checks every Apply of a customer's child aggregate (interaction, survey) starts with, in
// this order: a payload or a type this build does not know (DATA_LOSS, EVENT_WITHOUT_PAYLOAD);
// an event of the kind, `of_kind` (FAILED_PRECONDITION, NOT_<A_KIND>_EVENT); an aggregate name of
// `collection` whose customer is the envelope's, the state's own once it exists
// (AGGREGATE_MISMATCH); the next version (VERSION_MISMATCH). `kind` ("survey") and `a_kind` ("a
// survey") name the resource in messages and metadata.
absl::Status CheckChildEvent(const Event& event, bool of_kind, absl::string_view collection,
                             absl::string_view kind, absl::string_view a_kind,
                             absl::string_view state_name, int64_t state_version);

// Whether `event` is an interaction event (InteractionLogged, FollowUpCompleted or
// FollowUpDueSoon).
bool IsInteractionEvent(const Event& event);

// The AIP-154 etag of a version: "v<version>".
using crm::status::Etag;
// The version in an etag "v<version>"; INVALID_ARGUMENT naming `field` if malformed.
inline absl::StatusOr<int64_t> ParseEtag(absl::string_view etag, absl::string_view field) {
  return crm::status::ParseEtag(etag, field, "Interaction.etag");
}

struct ChildName {
  std::string customer_id;
  std::string id;  // the interaction or complaint id
};

// "customers/{customer_id}/interactions/{interaction_id}".
std::string InteractionName(absl::string_view customer_id, absl::string_view interaction_id);
// The parts of an interaction name; INVALID_ARGUMENT naming `field` if malformed.
absl::StatusOr<ChildName> ParseInteractionName(absl::string_view name, absl::string_view field);
// The parts of "customers/{customer_id}/{collection}/{id}" (ids of the customer id shape);
// INVALID_ARGUMENT naming `field` if malformed. Shared by every child resource of a customer.
absl::StatusOr<ChildName> ParseChildName(absl::string_view name, absl::string_view collection,
                                         absl::string_view field);
// The parts of "customers/{customer_id}/complaints/{complaint_id}"; INVALID_ARGUMENT naming
// `field` if malformed.
absl::StatusOr<ChildName> ParseComplaintName(absl::string_view name, absl::string_view field);
// 1 to 63 of [a-z0-9-], not starting or ending with "-" (the shape of customer ids).
absl::Status ValidateInteractionId(absl::string_view id, absl::string_view field);

}  // namespace crm::domain::interaction
