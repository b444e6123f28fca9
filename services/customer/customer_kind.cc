#include "services/customer/customer_kind.h"

#include "absl/strings/str_cat.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/email_reservation.h"
#include "domain/customer/event_codec.h"
#include "services/access/holders.h"

namespace crm::services::customer {

namespace {

constexpr absl::string_view kLedgerPrefix = "purchase/";

absl::StatusOr<domain::customer::RecordedPurchase> DecodeEntry(absl::string_view key,
                                                               absl::string_view value) {
  crm::internal::v1::PurchaseLedgerEntry entry;
  crm::events::v1::Purchase purchase;
  if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      !purchase.ParseFromString(entry.purchase())) {
    return absl::DataLossError(absl::StrCat("purchase ledger entry ", key, " cannot be decoded"));
  }
  domain::customer::RecordedPurchase out;
  out.purchase = domain::customer::ToApi(purchase);
  out.refunded_minor = entry.refunded_minor();
  out.owner = entry.owner();
  out.team = entry.team();
  out.department = entry.department();
  return out;
}

// The purchase ledger (customer_kind.h): written from the events themselves, so a refund needs
// no read of the entry it replaces. A merge copies the merged customer's purchases to the
// survivor, but never over a purchase of the survivor's own with the same id.
absl::Status IndexPurchases(absl::string_view aggregate, const crm::v1::Customer* before,
                            const crm::v1::Customer& after, const command::Event& event,
                            kv::KvBatch& batch) {
  if (event.has_customer_merged()) {
    for (const auto& moved : event.customer_merged().merged_purchases()) {
      if (moved.purchase().purchase_id().empty()) continue;
      const std::string key =
          PurchaseLedgerKey(event.customer_id(), moved.purchase().purchase_id());
      CRM_ASSIGN_OR_RETURN(std::optional<std::string> existing, batch.Get(key));
      if (existing.has_value()) continue;
      crm::internal::v1::PurchaseLedgerEntry entry;
      entry.set_purchase(base::SerializeDeterministic(moved.purchase()));
      entry.set_refunded_minor(moved.refunded_minor());
      entry.set_owner(moved.sold_by_owner());
      entry.set_team(moved.sold_by_team());
      entry.set_department(moved.sold_by_department());
      batch.Put(key, base::SerializeDeterministic(entry));
    }
    return absl::OkStatus();
  }
  crm::internal::v1::PurchaseLedgerEntry entry;
  const crm::events::v1::Purchase* purchase = nullptr;
  if (event.has_purchase_recorded()) {
    purchase = &event.purchase_recorded().purchase();
    // The customer as the purchase found it (a purchase changes neither).
    entry.set_owner(after.owner());
    entry.set_team(after.team());
    entry.set_department(after.department());
  } else if (event.has_purchase_refunded()) {
    const auto& refunded = event.purchase_refunded();
    purchase = &refunded.purchase();
    entry.set_refunded_minor(refunded.refunded_minor());
    entry.set_owner(refunded.sold_by_owner());
    entry.set_team(refunded.sold_by_team());
    entry.set_department(refunded.sold_by_department());
  }
  // Purchases recorded without an id (before ids were generated) cannot be refunded.
  if (purchase == nullptr || purchase->purchase_id().empty()) return absl::OkStatus();
  entry.set_purchase(base::SerializeDeterministic(*purchase));
  batch.Put(PurchaseLedgerKey(event.customer_id(), purchase->purchase_id()),
            base::SerializeDeterministic(entry));
  return absl::OkStatus();
}

}  // namespace

const command::TypedKind<crm::v1::Customer>& CustomerKind() {
  static auto* kind = new command::TypedKind<crm::v1::Customer>(
      [](const command::Event& event) { return domain::customer::IsCustomerEvent(event); },
      [](crm::v1::Customer& state, const command::Event& event) {
        return domain::customer::Apply(state, event);
      },
      &IndexPurchases);
  kind->Guard([](const crm::v1::Customer& row) { return access::HoldersOf(row); });
  return *kind;
}

const command::TypedKind<crm::internal::v1::EmailReservation>& EmailReservationKind() {
  static const auto* kind = new command::TypedKind<crm::internal::v1::EmailReservation>(
      [](const command::Event& event) { return domain::customer::IsReservationEvent(event); },
      [](crm::internal::v1::EmailReservation& state, const command::Event& event) {
        return domain::customer::ApplyReservation(state, event);
      });
  return *kind;
}

absl::StatusOr<command::Versioned<crm::v1::Customer>> FindCustomer(
    command::CommandExecutor* executor, absl::string_view customer_id, absl::Time deadline) {
  const std::string name = domain::customer::CustomerName(customer_id);
  CRM_ASSIGN_OR_RETURN(auto found, executor->state().Get<crm::v1::Customer>(name));
  if (found.version != 0) return found;
  CRM_RETURN_IF_ERROR(executor->SyncStream(customer_id, deadline));
  return executor->state().Get<crm::v1::Customer>(name);
}

std::string PurchaseLedgerKey(absl::string_view customer_id, absl::string_view purchase_id) {
  return absl::StrCat(kLedgerPrefix, customer_id, "/", purchase_id);
}

absl::StatusOr<std::optional<domain::customer::RecordedPurchase>> FindPurchase(
    const command::AggregateState& state, absl::string_view customer_id,
    absl::string_view purchase_id) {
  const std::string key = PurchaseLedgerKey(customer_id, purchase_id);
  CRM_ASSIGN_OR_RETURN(std::optional<std::string> value, state.store()->Get(key));
  if (!value.has_value()) return std::nullopt;
  return DecodeEntry(key, *value);
}

absl::StatusOr<std::vector<domain::customer::RecordedPurchase>> ListPurchases(
    const command::AggregateState& state, absl::string_view customer_id) {
  std::vector<domain::customer::RecordedPurchase> out;
  absl::Status decoded;
  CRM_RETURN_IF_ERROR(state.store()->ScanPrefix(
      PurchaseLedgerKey(customer_id, ""), "", 0,
      [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<domain::customer::RecordedPurchase> p = DecodeEntry(key, value);
        if (!p.ok()) {
          decoded = p.status();
          return false;
        }
        out.push_back(*std::move(p));
        return true;
      }));
  CRM_RETURN_IF_ERROR(decoded);
  return out;
}

}  // namespace crm::services::customer
