// How the command side folds customers and e-mail reservations: their AggregateKinds (the
// domain's one Apply each) for command::AggregateStateFold, and the customer lookup that other
// areas' commands use (a complaint's or an interaction's customer).
//
// Thread-safe: immutable kinds; FindCustomer reads a thread-safe store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/internal/v1/command_state.pb.h"
#include "crm/v1/customer.pb.h"
#include "domain/customer/customer_aggregate.h"
#include "services/command/aggregate_state.h"
#include "services/command/command_executor.h"

namespace crm::services::customer {

// crm.v1.Customer, aggregate "customers/{id}", stream key the customer id. Its index is the
// purchase ledger: "purchase/<customer id>/<purchase id>" -> crm.internal.v1.PurchaseLedgerEntry,
// one per purchase recorded with an id, updated by each of its refunds (RefundPurchase reads
// it).
const command::TypedKind<crm::v1::Customer>& CustomerKind();
// crm.internal.v1.EmailReservation, aggregate "emailReservations/{digest}" (also its stream key).
const command::TypedKind<crm::internal::v1::EmailReservation>& EmailReservationKind();

// The customer `customer_id` as the command state has it (version 0: unknown), syncing the
// customer's stream once if it is not found (registered a moment ago through another replica).
// UNAVAILABLE if that sync does not finish by `deadline`.
absl::StatusOr<command::Versioned<crm::v1::Customer>> FindCustomer(
    command::CommandExecutor* executor, absl::string_view customer_id, absl::Time deadline);

// Whether a command may create `child` (an interaction, complaint or survey of `customer`): OK if
// the customer takes new children (domain::customer::CheckActive) or `child` exists already (a
// retry of one recorded before the customer was merged or archived gets its answer); else
// CheckActive's FAILED_PRECONDITION (CUSTOMER_MERGED, CUSTOMER_ARCHIVED).
absl::Status CheckNewChild(const command::AggregateState& state, const crm::v1::Customer& customer,
                           absl::string_view child);

// Every purchase of `customer_id` in the ledger, in purchase id order.
absl::StatusOr<std::vector<domain::customer::RecordedPurchase>> ListPurchases(
    const command::AggregateState& state, absl::string_view customer_id);

// A purchase as its ledger entry has it, and back (as SealMerged answers a merged customer's
// purchases). INVALID_ARGUMENT for an entry whose purchase cannot be decoded.
absl::StatusOr<domain::customer::RecordedPurchase> FromLedgerEntry(
    const crm::internal::v1::PurchaseLedgerEntry& entry);
crm::internal::v1::PurchaseLedgerEntry ToLedgerEntry(const domain::customer::RecordedPurchase& p);

// The ledger key of a purchase.
std::string PurchaseLedgerKey(absl::string_view customer_id, absl::string_view purchase_id);
// The purchase `purchase_id` of `customer_id` as the command state has it; nullopt if none.
// DATA_LOSS for an entry that cannot be decoded.
absl::StatusOr<std::optional<domain::customer::RecordedPurchase>> FindPurchase(
    const command::AggregateState& state, absl::string_view customer_id,
    absl::string_view purchase_id);

}  // namespace crm::services::customer
