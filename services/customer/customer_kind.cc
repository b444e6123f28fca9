#include "services/customer/customer_kind.h"

#include "common/base/status_macros.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/email_reservation.h"
#include "services/access/holders.h"

namespace crm::services::customer {

const command::TypedKind<crm::v1::Customer>& CustomerKind() {
  static auto* kind = new command::TypedKind<crm::v1::Customer>(
      [](const command::Event& event) { return domain::customer::IsCustomerEvent(event); },
      [](crm::v1::Customer& state, const command::Event& event) {
        return domain::customer::Apply(state, event);
      });
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

}  // namespace crm::services::customer
