#include "domain/customer/event_codec.h"

namespace crm::domain::customer {

namespace ev = crm::events::v1;

CRM_SAME_ENUM_RANGE(crm::v1::CustomerKind, ev::CustomerKind);
CRM_SAME_ENUM_RANGE(crm::v1::LifecycleStage, ev::LifecycleStage);
CRM_SAME_ENUM_RANGE(crm::v1::ValueTier, ev::ValueTier);
CRM_SAME_ENUM_RANGE(crm::v1::AcquisitionSource, ev::AcquisitionSource);
CRM_SAME_ENUM_RANGE(crm::v1::AddressKind, ev::AddressKind);
CRM_SAME_ENUM_RANGE(crm::v1::SocialNetwork, ev::SocialNetwork);

ev::CustomerProfile ToEvent(const crm::v1::Customer& customer) {
  ev::CustomerProfile out;
  out.set_display_name(customer.display_name());
  out.set_kind(ToEvent(customer.kind()));
  *out.mutable_emails() = customer.emails();
  *out.mutable_phones() = customer.phones();
  out.set_region(customer.region());
  out.set_industry(customer.industry());
  out.set_acquisition_source(ToEvent(customer.acquisition_source()));
  *out.mutable_attributes() = customer.attributes();
  out.set_external_id(customer.external_id());
  for (const auto& a : customer.addresses()) *out.add_addresses() = ToEvent(a);
  for (const auto& s : customer.social_ids()) *out.add_social_ids() = ToEvent(s);
  for (const auto& c : customer.contacts()) *out.add_contacts() = ToEvent(c);
  return out;
}

crm::v1::Customer ToApi(const ev::CustomerProfile& profile) {
  crm::v1::Customer out;
  out.set_display_name(profile.display_name());
  out.set_kind(ToApi(profile.kind()));
  *out.mutable_emails() = profile.emails();
  *out.mutable_phones() = profile.phones();
  out.set_region(profile.region());
  out.set_industry(profile.industry());
  out.set_acquisition_source(ToApi(profile.acquisition_source()));
  *out.mutable_attributes() = profile.attributes();
  out.set_external_id(profile.external_id());
  for (const auto& a : profile.addresses()) *out.add_addresses() = ToApi(a);
  for (const auto& s : profile.social_ids()) *out.add_social_ids() = ToApi(s);
  for (const auto& c : profile.contacts()) *out.add_contacts() = ToApi(c);
  return out;
}

ev::Purchase ToEvent(const crm::v1::Purchase& purchase) {
  ev::Purchase out;
  out.set_purchase_id(purchase.purchase_id());
  if (purchase.has_amount()) *out.mutable_amount() = ToEvent(purchase.amount());
  out.set_product(purchase.product());
  if (purchase.has_purchased_at()) *out.mutable_purchased_at() = purchase.purchased_at();
  return out;
}

crm::v1::Purchase ToApi(const ev::Purchase& purchase) {
  crm::v1::Purchase out;
  out.set_purchase_id(purchase.purchase_id());
  if (purchase.has_amount()) *out.mutable_amount() = ToApi(purchase.amount());
  out.set_product(purchase.product());
  if (purchase.has_purchased_at()) *out.mutable_purchased_at() = purchase.purchased_at();
  return out;
}

ev::Money ToEvent(const crm::v1::Money& money) {
  ev::Money out;
  out.set_currency_code(money.currency_code());
  out.set_amount_minor(money.amount_minor());
  return out;
}

crm::v1::Money ToApi(const ev::Money& money) {
  crm::v1::Money out;
  out.set_currency_code(money.currency_code());
  out.set_amount_minor(money.amount_minor());
  return out;
}

ev::CustomerKind ToEvent(crm::v1::CustomerKind kind) {
  return EnumByNumber<ev::CustomerKind>(kind);
}
crm::v1::CustomerKind ToApi(ev::CustomerKind kind) {
  return EnumByNumber<crm::v1::CustomerKind>(kind);
}

ev::LifecycleStage ToEvent(crm::v1::LifecycleStage stage) {
  return EnumByNumber<ev::LifecycleStage>(stage);
}
crm::v1::LifecycleStage ToApi(ev::LifecycleStage stage) {
  return EnumByNumber<crm::v1::LifecycleStage>(stage);
}

ev::ValueTier ToEvent(crm::v1::ValueTier tier) { return EnumByNumber<ev::ValueTier>(tier); }
crm::v1::ValueTier ToApi(ev::ValueTier tier) { return EnumByNumber<crm::v1::ValueTier>(tier); }

ev::AcquisitionSource ToEvent(crm::v1::AcquisitionSource source) {
  return EnumByNumber<ev::AcquisitionSource>(source);
}
crm::v1::AcquisitionSource ToApi(ev::AcquisitionSource source) {
  return EnumByNumber<crm::v1::AcquisitionSource>(source);
}

ev::PostalAddress ToEvent(const crm::v1::PostalAddress& address) {
  ev::PostalAddress out;
  out.set_kind(EnumByNumber<ev::AddressKind>(address.kind()));
  *out.mutable_lines() = address.lines();
  out.set_city(address.city());
  out.set_region(address.region());
  out.set_postal_code(address.postal_code());
  out.set_country_code(address.country_code());
  return out;
}
crm::v1::PostalAddress ToApi(const ev::PostalAddress& address) {
  crm::v1::PostalAddress out;
  out.set_kind(EnumByNumber<crm::v1::AddressKind>(address.kind()));
  *out.mutable_lines() = address.lines();
  out.set_city(address.city());
  out.set_region(address.region());
  out.set_postal_code(address.postal_code());
  out.set_country_code(address.country_code());
  return out;
}
ev::SocialId ToEvent(const crm::v1::SocialId& id) {
  ev::SocialId out;
  out.set_network(EnumByNumber<ev::SocialNetwork>(id.network()));
  out.set_handle(id.handle());
  return out;
}
crm::v1::SocialId ToApi(const ev::SocialId& id) {
  crm::v1::SocialId out;
  out.set_network(EnumByNumber<crm::v1::SocialNetwork>(id.network()));
  out.set_handle(id.handle());
  return out;
}
ev::ContactPerson ToEvent(const crm::v1::ContactPerson& person) {
  ev::ContactPerson out;
  out.set_display_name(person.display_name());
  out.set_title(person.title());
  *out.mutable_emails() = person.emails();
  *out.mutable_phones() = person.phones();
  out.set_primary(person.primary());
  return out;
}
crm::v1::ContactPerson ToApi(const ev::ContactPerson& person) {
  crm::v1::ContactPerson out;
  out.set_display_name(person.display_name());
  out.set_title(person.title());
  *out.mutable_emails() = person.emails();
  *out.mutable_phones() = person.phones();
  out.set_primary(person.primary());
  return out;
}

absl::StatusOr<ev::ValueTier> TierToRecord(
    const std::function<absl::StatusOr<crm::v1::ValueTier>(absl::string_view)>& lookup,
    absl::string_view customer_id) {
  if (!lookup) return ev::VALUE_TIER_UNSPECIFIED;
  absl::StatusOr<crm::v1::ValueTier> tier = lookup(customer_id);
  if (!tier.ok()) return tier.status();
  return crm::v1::ValueTier_IsValid(*tier) ? ToEvent(*tier) : ev::VALUE_TIER_UNSPECIFIED;
}

}  // namespace crm::domain::customer
