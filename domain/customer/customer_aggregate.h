// The customer aggregate: pure decide/apply functions.
//
//   Decide*(state, command, context) -> the events the command produces,
//                                       or why it is refused.
//   Apply(state, event)              -> the state after the event.
//
// No I/O and no clock of their own: everything a rule needs comes in through
// the arguments, so every rule is unit-tested directly and folds are
// deterministic. The command side runs Decide then appends; the command-state
// fold and the view projection both run Apply.
//
// State: a crm.v1.Customer; version 0 (the default instance) means "does not
// exist". Decided events carry only their payload (and occurred_at for facts
// with a business time); the caller stamps ids, versions, times and metadata
// (see StampEnvelope in the command service).
//
// The rules (transition table, tier rules, limits) are documented in
// proto/crm/v1/README.md. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status/etag.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/customer_service.pb.h"

namespace crm::domain::customer {

using Event = crm::events::v1::EventEnvelope;
using Events = std::vector<Event>;
using State = crm::v1::Customer;

// A purchase as recorded, with what is refunded of it and whom it counted for in the sales
// figures (the customer's owner, team and department when it was recorded).
struct RecordedPurchase {
  crm::v1::Purchase purchase;
  int64_t refunded_minor = 0;
  std::string owner;
  std::string team;
  std::string department;
};

struct DecideContext {
  // The time the command is decided at (recorded_at of its events).
  absl::Time now;
  // The id of the customer holding a normalized e-mail, if any. Required for
  // commands that set e-mails (register, update).
  std::function<std::optional<std::string>(absl::string_view normalized_email)> email_owner;
  // The id of the customer holding an external id, if any. Required for commands that set one.
  std::function<std::optional<std::string>(absl::string_view external_id)> external_id_owner;
  // This customer's purchase with an id, if recorded. Required by RefundPurchase; RecordPurchase
  // uses it, when set, to refuse an id already recorded.
  std::function<absl::StatusOr<std::optional<RecordedPurchase>>(absl::string_view purchase_id)>
      find_purchase;
};

// Every Decide* checks, in this order: request fields (INVALID_ARGUMENT naming
// the field path, e.g. "customer.emails[1]"; a malformed etag is a bad request
// field too), existence (NOT_FOUND, or ALREADY_EXISTS for register), the etag
// (ABORTED if stale), then business rules (FAILED_PRECONDITION, ALREADY_EXISTS
// for a taken e-mail or external id with ErrorInfo metadata "existing_customer"). A command
// that would change nothing returns no events.

// `customer_id` is the id to register under (already chosen: from the request
// or generated).
absl::StatusOr<Events> DecideRegister(const State& state,
                                      const crm::v1::RegisterCustomerRequest& request,
                                      absl::string_view customer_id, const DecideContext& context);
absl::StatusOr<Events> DecideUpdate(const State& state,
                                    const crm::v1::UpdateCustomerRequest& request,
                                    const DecideContext& context);
absl::StatusOr<Events> DecideChangeLifecycleStage(
    const State& state, const crm::v1::ChangeLifecycleStageRequest& request,
    const DecideContext& context);
absl::StatusOr<Events> DecideAssignOwner(const State& state,
                                         const crm::v1::AssignOwnerRequest& request,
                                         const DecideContext& context);
// Clears the owner (OwnerUnassigned); a customer without an owner changes nothing.
absl::StatusOr<Events> DecideUnassignOwner(const State& state,
                                           const crm::v1::UnassignOwnerRequest& request,
                                           const DecideContext& context);
absl::StatusOr<Events> DecideTag(const State& state, const crm::v1::TagCustomerRequest& request,
                                 const DecideContext& context);
absl::StatusOr<Events> DecideUntag(const State& state, const crm::v1::UntagCustomerRequest& request,
                                   const DecideContext& context);
absl::StatusOr<Events> DecideRecordPurchase(const State& state,
                                            const crm::v1::RecordPurchaseRequest& request,
                                            const DecideContext& context);

// A merge (MergeCustomers): the events for the merged customer (CustomerMergedInto, appended
// first) and for the survivor (CustomerMerged), and what moves. `counts` are the merged
// customer's interactions and complaints (other aggregates: the command side counts them).
// Checks, in this order: request fields (INVALID_ARGUMENT: survivor, merged, request_id, etags;
// merged == survivor), existence of both (NOT_FOUND naming the missing one), etags (ABORTED),
// neither merged already (FAILED_PRECONDITION CUSTOMER_MERGED naming its survivor; a merge
// already done, merged into survivor, is ALREADY_MERGED), then the limits of the union
// (FAILED_PRECONDITION TOO_MANY_EMAILS / TOO_MANY_PHONES / TOO_MANY_TAGS). What the survivor
// keeps and takes: proto/crm/v1/README.md, "Merging customers".
struct MergeCounts {
  int64_t interactions = 0;
  int64_t complaints = 0;
  // The merged customer's purchases with an id (its purchase ledger), in purchase id order.
  std::vector<RecordedPurchase> purchases;
};
struct MergeDecision {
  Event merged_event;    // on the merged customer's stream
  Event survivor_event;  // on the survivor's stream
  crm::v1::MergeSummary summary;
};
absl::StatusOr<MergeDecision> DecideMerge(const State& survivor, const State& merged,
                                          const crm::v1::MergeCustomersRequest& request,
                                          const MergeCounts& counts, const DecideContext& context);

// PurchaseRefunded (occurred_at: refunded_at, else now) of the request's amount, or of all that
// is not refunded yet. INVALID_ARGUMENT for bad fields, an amount in another currency than the
// purchase's or a refund time before the purchase; NOT_FOUND (PURCHASE_NOT_FOUND) for an unknown
// purchase id; FAILED_PRECONDITION for a purchase wholly refunded already
// (PURCHASE_ALREADY_REFUNDED) or an amount over what is left (REFUND_EXCEEDS_PURCHASE, metadata
// refundable_minor).
absl::StatusOr<Events> DecideRefundPurchase(const State& state,
                                            const crm::v1::RefundPurchaseRequest& request,
                                            const DecideContext& context);

// FAILED_PRECONDITION (reason CUSTOMER_MERGED, metadata survivor) for a command on a customer
// that was merged into another; OK otherwise.
absl::Status CheckNotMerged(const State& state);
// CheckNotMerged, then FAILED_PRECONDITION (reason CUSTOMER_ARCHIVED, metadata customer) for a
// customer that is archived: what a customer must be to take commands and new interactions,
// complaints and surveys.
absl::Status CheckActive(const State& state);

// CustomerArchived / CustomerUnarchived (occurred_at: now), or nothing if the customer already is
// archived / active. These two take an archived customer; a merged one is refused as by every
// command (CUSTOMER_MERGED).
absl::StatusOr<Events> DecideArchive(const State& state,
                                     const crm::v1::ArchiveCustomerRequest& request,
                                     const DecideContext& context);
absl::StatusOr<Events> DecideUnarchive(const State& state,
                                       const crm::v1::UnarchiveCustomerRequest& request,
                                       const DecideContext& context);

// Applies a stamped event. REQUIRES the event's aggregate_version ==
// state.version() + 1 and its customer_id to match (FAILED_PRECONDITION
// otherwise); DATA_LOSS for an envelope without payload. Sets name, version,
// etag, create_time/update_time (from recorded_at) and the payload's fields;
// recomputes value figures and tier on purchases.
absl::Status Apply(State& state, const Event& event);

// The AIP-154 etag of a version: "v<version>" (e.g. "v7").
using crm::status::Etag;
// The version in an etag "v<version>"; INVALID_ARGUMENT naming `field` if
// malformed.
inline absl::StatusOr<int64_t> ParseEtag(absl::string_view etag, absl::string_view field) {
  return crm::status::ParseEtag(etag, field, "Customer.etag");
}

// Whether the lifecycle table allows from -> to (documented in
// proto/crm/v1/README.md). False for from == to (not a move) and for
// UNSPECIFIED or unknown stages.
bool IsAllowedTransition(crm::v1::LifecycleStage from, crm::v1::LifecycleStage to);

// Value tier thresholds (documented in proto/crm/v1/README.md).
inline constexpr int64_t kHighValuePurchaseCount = 10;
inline constexpr int64_t kHighValueTotalMinor = 1'000'000;  // In any one currency.

// The value tier that the figures give (rules in proto/crm/v1/README.md).
crm::v1::ValueTier TierFor(const crm::v1::ValueFigures& figures);

// Whether the event is a customer event (payload field numbers 20-39), as opposed to a
// complaint, interaction or organisation event that shares the log.
bool IsCustomerEvent(const Event& event);

// Full protobuf name of the payload in `event`, e.g.
// "crm.events.v1.CustomerRegistered"; empty if no payload is set.
std::string EventTypeName(const Event& event);

// "customers/{id}" for an id.
std::string CustomerName(absl::string_view customer_id);
// The id in "customers/{id}"; INVALID_ARGUMENT naming `field` if malformed.
absl::StatusOr<std::string> ParseCustomerName(absl::string_view name, absl::string_view field);

}  // namespace crm::domain::customer
