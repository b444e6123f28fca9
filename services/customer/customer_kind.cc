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
  if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("purchase ledger entry ", key, " cannot be decoded"));
  }
  absl::StatusOr<domain::customer::RecordedPurchase> out = FromLedgerEntry(entry);
  if (!out.ok()) {
    return absl::DataLossError(
        absl::StrCat("purchase ledger entry ", key, ": ", out.status().message()));
  }
  return out;
}

crm::internal::v1::PurchaseLedgerEntry LedgerEntry(const crm::events::v1::Purchase& purchase,
                                                   int64_t refunded_minor, absl::string_view owner,
                                                   absl::string_view team,
                                                   absl::string_view department) {
  crm::internal::v1::PurchaseLedgerEntry entry;
  entry.set_purchase(base::SerializeDeterministic(purchase));
  entry.set_refunded_minor(refunded_minor);
  entry.set_owner(std::string(owner));
  entry.set_team(std::string(team));
  entry.set_department(std::string(department));
  return entry;
}

// Writes the ledger entry of `purchase` (one with an id: those recorded without one, before ids
// were generated, cannot be refunded). `keep_existing`: not over an entry already there.
absl::Status PutEntry(kv::KvBatch& batch, absl::string_view customer_id,
                      const crm::events::v1::Purchase& purchase, int64_t refunded_minor,
                      absl::string_view owner, absl::string_view team, absl::string_view department,
                      bool keep_existing = false) {
  if (purchase.purchase_id().empty()) return absl::OkStatus();
  const std::string key = PurchaseLedgerKey(customer_id, purchase.purchase_id());
  if (keep_existing) {
    CRM_ASSIGN_OR_RETURN(std::optional<std::string> existing, batch.Get(key));
    if (existing.has_value()) return absl::OkStatus();
  }
  batch.Put(key, base::SerializeDeterministic(
                     LedgerEntry(purchase, refunded_minor, owner, team, department)));
  return absl::OkStatus();
}

// The purchase ledger (customer_kind.h): written from the events themselves, so a refund needs
// no read of the entry it replaces. A merge copies the merged customer's purchases to the
// survivor, but never over a purchase of the survivor's own with the same id.
absl::Status IndexPurchases(absl::string_view aggregate, const crm::v1::Customer* before,
                            const crm::v1::Customer& after, const command::Event& event,
                            kv::KvBatch& batch) {
  const std::string& id = event.customer_id();
  if (event.has_purchase_recorded()) {
    // Sold by the customer's owner as the purchase found them (a purchase changes neither).
    return PutEntry(batch, id, event.purchase_recorded().purchase(), 0, after.owner(), after.team(),
                    after.department());
  }
  if (event.has_purchase_refunded()) {
    const auto& r = event.purchase_refunded();
    return PutEntry(batch, id, r.purchase(), r.refunded_minor(), r.sold_by_owner(),
                    r.sold_by_team(), r.sold_by_department());
  }
  if (event.has_customer_merged()) {
    for (const auto& m : event.customer_merged().merged_purchases()) {
      CRM_RETURN_IF_ERROR(PutEntry(batch, id, m.purchase(), m.refunded_minor(), m.sold_by_owner(),
                                   m.sold_by_team(), m.sold_by_department(),
                                   /*keep_existing=*/true));
    }
  }
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

absl::StatusOr<domain::customer::RecordedPurchase> FromLedgerEntry(
    const crm::internal::v1::PurchaseLedgerEntry& entry) {
  crm::events::v1::Purchase purchase;
  if (!purchase.ParseFromString(entry.purchase())) {
    return absl::InvalidArgumentError("the purchase cannot be decoded");
  }
  domain::customer::RecordedPurchase out;
  out.purchase = domain::customer::ToApi(purchase);
  out.refunded_minor = entry.refunded_minor();
  out.owner = entry.owner();
  out.team = entry.team();
  out.department = entry.department();
  return out;
}

crm::internal::v1::PurchaseLedgerEntry ToLedgerEntry(const domain::customer::RecordedPurchase& p) {
  return LedgerEntry(domain::customer::ToEvent(p.purchase), p.refunded_minor, p.owner, p.team,
                     p.department);
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

absl::Status CheckNewChild(const command::AggregateState& state, const crm::v1::Customer& customer,
                           absl::string_view child) {
  absl::Status active = domain::customer::CheckActive(customer);
  if (active.ok()) return active;
  CRM_ASSIGN_OR_RETURN(crm::internal::v1::AggregateRecord existing, state.Record(child));
  return existing.version() == 0 ? active : absl::OkStatus();
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
