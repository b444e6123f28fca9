#include "domain/customer/customer_aggregate.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "common/status/violations.h"
#include "domain/common/event_types.h"
#include "domain/customer/customer_import.h"
#include "domain/customer/event_codec.h"
#include "domain/customer/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace crm::domain::customer {
namespace {

using crm::v1::Customer;
using crm::v1::LifecycleStage;
using crm::v1::ValueTier;
using google::protobuf::Timestamp;

constexpr absl::string_view kNamePrefix = "customers/";

// The profile fields UpdateCustomer may change, in the canonical order of
// changed_paths.
constexpr std::array<absl::string_view, 12> kProfilePaths = {
    "display_name",       "kind",       "emails",      "phones",    "region",     "industry",
    "acquisition_source", "attributes", "external_id", "addresses", "social_ids", "contacts"};

using crm::status::Violations;

std::string Indexed(absl::string_view field, size_t i) { return absl::StrCat(field, "[", i, "]"); }

// `field["key"]` with quotes and backslashes escaped (hex-escaped if not UTF-8,
// so that the path stays a valid proto string).
std::string Keyed(absl::string_view field, absl::string_view key) {
  std::string escaped;
  if (!IsValidUtf8(key)) {
    escaped = absl::CHexEscape(key);
  } else {
    for (char c : key) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
  }
  return absl::StrCat(field, "[\"", escaped, "\"]");
}

std::string StageName(LifecycleStage stage) {
  const std::string& name = crm::v1::LifecycleStage_Name(stage);
  return name.empty() ? absl::StrCat(static_cast<int>(stage)) : name;
}

bool TimestampLess(const Timestamp& a, const Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() < b.seconds() : a.nanos() < b.nanos();
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
    return std::numeric_limits<int64_t>::max();
  }
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b) {
    return std::numeric_limits<int64_t>::min();
  }
  return a + b;
}

absl::Status NotFound(absl::string_view name) {
  return crm::status::ResourceNotFound(Customer::descriptor()->full_name(), name,
                                       "CUSTOMER_NOT_FOUND", {{"customer", std::string(name)}});
}

// The common head of the commands on an existing customer: request_id, name and
// etag shape (collected in `violations`), returning the parsed name and etag
// version.
struct Target {
  std::string name;
  std::optional<int64_t> etag_version;
};

Target CheckTarget(absl::string_view name, absl::string_view name_field,
                   absl::string_view request_id, absl::string_view etag, Violations& violations) {
  Target target;
  violations.Add(ValidateRequestId(request_id, "request_id"));
  auto id = ParseCustomerName(name, name_field);
  if (violations.Check(id)) target.name = CustomerName(*id);
  if (!etag.empty()) {
    auto version = ParseEtag(etag, "etag");
    if (violations.Check(version)) target.etag_version = *version;
  }
  return target;
}

absl::Status MergedError(const State& state);

// Existence, etag and not merged, after the request fields are known to be valid.
absl::Status CheckExists(const State& state, const Target& target) {
  if (state.version() == 0) return NotFound(target.name);
  if (target.etag_version.has_value() && *target.etag_version != state.version()) {
    return crm::status::StaleEtag(target.name, "customer", *target.etag_version, state.version());
  }
  if (!state.merged_into().empty()) return MergedError(state);
  return absl::OkStatus();
}

// CheckExists, and not archived: the check of every command but (un)archiving.
absl::Status CheckState(const State& state, const Target& target) {
  CRM_RETURN_IF_ERROR(CheckExists(state, target));
  return CheckActive(state);
}

void CheckDisplayName(const Customer& in, Customer& out, Violations& v) {
  v.Add(
      ValidateText(in.display_name(), kMaxDisplayName, /*required=*/true, "customer.display_name"));
  out.set_display_name(in.display_name());
}

void CheckKind(const Customer& in, Customer& out, Violations& v) {
  v.Add(ValidateRequiredEnum(*crm::v1::CustomerKind_descriptor(), in.kind(), "customer.kind"));
  out.set_kind(in.kind());
}

// Normalizes a list of contact points (e-mails or phones), dropping duplicates, at most `max`.
void CheckContacts(const google::protobuf::RepeatedPtrField<std::string>& in,
                   absl::string_view field, size_t max, absl::string_view noun,
                   absl::StatusOr<std::string> (*normalize)(absl::string_view, absl::string_view),
                   google::protobuf::RepeatedPtrField<std::string>* out, Violations& v) {
  if (static_cast<size_t>(in.size()) > max) {
    v.Add(field, absl::StrCat("at most ", max, " ", noun));
    return;
  }
  std::set<std::string> seen;
  for (int i = 0; i < in.size(); ++i) {
    auto value = normalize(in.Get(i), Indexed(field, i));
    if (v.Check(value) && seen.insert(*value).second) out->Add(std::string(*value));
  }
}

void CheckEmails(const Customer& in, Customer& out, Violations& v) {
  CheckContacts(in.emails(), "customer.emails", kMaxEmails, "e-mails", &NormalizeEmail,
                out.mutable_emails(), v);
}

void CheckPhones(const Customer& in, Customer& out, Violations& v) {
  CheckContacts(in.phones(), "customer.phones", kMaxPhones, "phone numbers", &NormalizePhone,
                out.mutable_phones(), v);
}

void CheckRegion(const Customer& in, Customer& out, Violations& v) {
  v.Add(ValidateText(in.region(), kMaxShortText, /*required=*/false, "customer.region"));
  out.set_region(in.region());
}

void CheckIndustry(const Customer& in, Customer& out, Violations& v) {
  v.Add(ValidateText(in.industry(), kMaxShortText, /*required=*/false, "customer.industry"));
  out.set_industry(in.industry());
}

void CheckAcquisitionSource(const Customer& in, Customer& out, Violations& v) {
  if (!crm::v1::AcquisitionSource_IsValid(in.acquisition_source())) {
    v.Add("customer.acquisition_source",
          absl::StrCat("unknown value ", static_cast<int>(in.acquisition_source())));
  }
  out.set_acquisition_source(in.acquisition_source());
}

void CheckAttributes(const Customer& in, Customer& out, Violations& v) {
  if (static_cast<size_t>(in.attributes_size()) > kMaxAttributes) {
    v.Add("customer.attributes", absl::StrCat("at most ", kMaxAttributes, " attributes"));
    return;
  }
  // Sorted, so that the violations come out in a deterministic order.
  std::map<std::string, std::string> sorted(in.attributes().begin(), in.attributes().end());
  for (const auto& [key, value] : sorted) {
    const std::string field = Keyed("customer.attributes", key);
    // The message of a key error reads "key: <why>".
    absl::Status key_status = ValidateText(key, kMaxAttributeKey, /*required=*/true, "key");
    if (!key_status.ok()) {
      v.Add(field, key_status.message());
      continue;
    }
    v.Add(ValidateText(value, kMaxAttributeValue, /*required=*/false, field));
    (*out.mutable_attributes())[key] = value;
  }
}

void CheckExternalId(const Customer& in, Customer& out, Violations& v) {
  v.Add(ValidateExternalId(in.external_id(), "customer.external_id"));
  out.set_external_id(in.external_id());
}

// Postal addresses, social ids and contact persons.
// Whether two messages hold the same values (they have no maps, so their bytes compare).
template <typename M>
bool SameMessage(const M& a, const M& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

// Contact persons are the same person whatever their primary flag says.
bool SameMessage(const crm::v1::ContactPerson& a, const crm::v1::ContactPerson& b) {
  return a.display_name() == b.display_name() && a.title() == b.title() &&
         std::equal(a.emails().begin(), a.emails().end(), b.emails().begin(), b.emails().end()) &&
         std::equal(a.phones().begin(), a.phones().end(), b.phones().begin(), b.phones().end());
}

template <typename M>
bool Contains(const google::protobuf::RepeatedPtrField<M>& list, const M& m) {
  return std::any_of(list.begin(), list.end(), [&](const M& x) { return SameMessage(x, m); });
}

template <typename M>
bool SameList(const google::protobuf::RepeatedPtrField<M>& a,
              const google::protobuf::RepeatedPtrField<M>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), &SameMessage<M>);
}

bool IsPostalCodeChar(char c) { return absl::ascii_isalnum(c) || c == ' ' || c == '-'; }

void CheckAddresses(const Customer& in, Customer& out, Violations& v) {
  if (static_cast<size_t>(in.addresses_size()) > kMaxAddresses) {
    v.Add("customer.addresses", absl::StrCat("at most ", kMaxAddresses, " addresses"));
    return;
  }
  for (int i = 0; i < in.addresses_size(); ++i) {
    const crm::v1::PostalAddress& a = in.addresses(i);
    const std::string field = Indexed("customer.addresses", i);
    v.Add(ValidateRequiredEnum(*crm::v1::AddressKind_descriptor(), a.kind(),
                               absl::StrCat(field, ".kind")));
    if (a.lines_size() == 0 || static_cast<size_t>(a.lines_size()) > kMaxAddressLines) {
      v.Add(absl::StrCat(field, ".lines"),
            absl::StrCat("must have 1 to ", kMaxAddressLines, " lines"));
    } else {
      for (int j = 0; j < a.lines_size(); ++j) {
        v.Add(ValidateText(a.lines(j), kMaxAddressLine, /*required=*/true,
                           Indexed(absl::StrCat(field, ".lines"), j)));
      }
    }
    v.Add(ValidateText(a.city(), kMaxShortText, /*required=*/false, absl::StrCat(field, ".city")));
    v.Add(ValidateText(a.region(), kMaxShortText, /*required=*/false,
                       absl::StrCat(field, ".region")));
    if (a.postal_code().size() > kMaxPostalCode ||
        !std::all_of(a.postal_code().begin(), a.postal_code().end(), &IsPostalCodeChar)) {
      v.Add(
          absl::StrCat(field, ".postal_code"),
          absl::StrCat("must be at most ", kMaxPostalCode, " letters, digits, spaces and dashes"));
    }
    v.Add(ValidateCountryCode(a.country_code(), absl::StrCat(field, ".country_code")));
    // A bad one fails the command anyway.
    if (!Contains(out.addresses(), a)) *out.add_addresses() = a;
  }
}

void CheckSocialIds(const Customer& in, Customer& out, Violations& v) {
  if (static_cast<size_t>(in.social_ids_size()) > kMaxSocialIds) {
    v.Add("customer.social_ids", absl::StrCat("at most ", kMaxSocialIds, " social ids"));
    return;
  }
  for (int i = 0; i < in.social_ids_size(); ++i) {
    const crm::v1::SocialId& s = in.social_ids(i);
    const std::string field = Indexed("customer.social_ids", i);
    v.Add(ValidateRequiredEnum(*crm::v1::SocialNetwork_descriptor(), s.network(),
                               absl::StrCat(field, ".network")));
    v.Add(ValidateSocialHandle(s.handle(), absl::StrCat(field, ".handle")));
    // A bad one fails the command anyway.
    if (!Contains(out.social_ids(), s)) *out.add_social_ids() = s;
  }
}

void CheckContactPersons(const Customer& in, Customer& out, Violations& v) {
  if (static_cast<size_t>(in.contacts_size()) > kMaxContactPersons) {
    v.Add("customer.contacts", absl::StrCat("at most ", kMaxContactPersons, " contacts"));
    return;
  }
  int primaries = 0;
  for (int i = 0; i < in.contacts_size(); ++i) {
    const crm::v1::ContactPerson& c = in.contacts(i);
    const std::string field = Indexed("customer.contacts", i);
    crm::v1::ContactPerson normalized;
    v.Add(ValidateText(c.display_name(), kMaxDisplayName, /*required=*/true,
                       absl::StrCat(field, ".display_name")));
    normalized.set_display_name(c.display_name());
    v.Add(
        ValidateText(c.title(), kMaxShortText, /*required=*/false, absl::StrCat(field, ".title")));
    normalized.set_title(c.title());
    CheckContacts(c.emails(), absl::StrCat(field, ".emails"), kMaxContactEmails, "e-mails",
                  &NormalizeEmail, normalized.mutable_emails(), v);
    CheckContacts(c.phones(), absl::StrCat(field, ".phones"), kMaxContactPhones, "phone numbers",
                  &NormalizePhone, normalized.mutable_phones(), v);
    normalized.set_primary(c.primary());
    if (c.primary() && ++primaries == 2) {
      v.Add(absl::StrCat(field, ".primary"), "at most one contact may be primary");
    }
    // A bad one fails the command anyway.
    if (!Contains(out.contacts(), normalized)) *out.add_contacts() = std::move(normalized);
  }
}

// Validates and normalizes one profile path of `in` into `out`.
void CheckPath(absl::string_view path, const Customer& in, Customer& out, Violations& v) {
  if (path == "display_name") return CheckDisplayName(in, out, v);
  if (path == "kind") return CheckKind(in, out, v);
  if (path == "emails") return CheckEmails(in, out, v);
  if (path == "phones") return CheckPhones(in, out, v);
  if (path == "region") return CheckRegion(in, out, v);
  if (path == "industry") return CheckIndustry(in, out, v);
  if (path == "acquisition_source") return CheckAcquisitionSource(in, out, v);
  if (path == "attributes") return CheckAttributes(in, out, v);
  if (path == "external_id") return CheckExternalId(in, out, v);
  if (path == "addresses") return CheckAddresses(in, out, v);
  if (path == "social_ids") return CheckSocialIds(in, out, v);
  if (path == "contacts") return CheckContactPersons(in, out, v);
}

// Whether profile path `path` is set (non-default) in `c`.
bool PathIsSet(absl::string_view path, const Customer& c) {
  if (path == "display_name") return !c.display_name().empty();
  if (path == "kind") return c.kind() != crm::v1::CUSTOMER_KIND_UNSPECIFIED;
  if (path == "emails") return c.emails_size() > 0;
  if (path == "phones") return c.phones_size() > 0;
  if (path == "region") return !c.region().empty();
  if (path == "industry") return !c.industry().empty();
  if (path == "acquisition_source") {
    return c.acquisition_source() != crm::v1::ACQUISITION_SOURCE_UNSPECIFIED;
  }
  if (path == "attributes") return c.attributes_size() > 0;
  if (path == "external_id") return !c.external_id().empty();
  if (path == "addresses") return c.addresses_size() > 0;
  if (path == "social_ids") return c.social_ids_size() > 0;
  if (path == "contacts") return c.contacts_size() > 0;
  return false;
}

bool PathEquals(absl::string_view path, const Customer& a, const Customer& b) {
  if (path == "display_name") return a.display_name() == b.display_name();
  if (path == "kind") return a.kind() == b.kind();
  if (path == "emails") {
    return std::equal(a.emails().begin(), a.emails().end(), b.emails().begin(), b.emails().end());
  }
  if (path == "phones") {
    return std::equal(a.phones().begin(), a.phones().end(), b.phones().begin(), b.phones().end());
  }
  if (path == "region") return a.region() == b.region();
  if (path == "industry") return a.industry() == b.industry();
  if (path == "acquisition_source") return a.acquisition_source() == b.acquisition_source();
  if (path == "attributes") {
    if (a.attributes_size() != b.attributes_size()) return false;
    for (const auto& [k, val] : a.attributes()) {
      auto it = b.attributes().find(k);
      if (it == b.attributes().end() || it->second != val) return false;
    }
    return true;
  }
  if (path == "external_id") return a.external_id() == b.external_id();
  if (path == "addresses") return SameList(a.addresses(), b.addresses());
  if (path == "social_ids") return SameList(a.social_ids(), b.social_ids());
  if (path == "contacts") return SameList(a.contacts(), b.contacts());
  return true;
}

// Copies profile path `path` from `from` to `to`.
void CopyPath(absl::string_view path, const Customer& from, Customer& to) {
  if (path == "display_name") {
    to.set_display_name(from.display_name());
  } else if (path == "kind") {
    to.set_kind(from.kind());
  } else if (path == "emails") {
    *to.mutable_emails() = from.emails();
  } else if (path == "phones") {
    *to.mutable_phones() = from.phones();
  } else if (path == "region") {
    to.set_region(from.region());
  } else if (path == "industry") {
    to.set_industry(from.industry());
  } else if (path == "acquisition_source") {
    to.set_acquisition_source(from.acquisition_source());
  } else if (path == "attributes") {
    *to.mutable_attributes() = from.attributes();
  } else if (path == "external_id") {
    to.set_external_id(from.external_id());
  } else if (path == "addresses") {
    *to.mutable_addresses() = from.addresses();
  } else if (path == "social_ids") {
    *to.mutable_social_ids() = from.social_ids();
  } else if (path == "contacts") {
    *to.mutable_contacts() = from.contacts();
  }
}

// ALREADY_EXISTS if one of `emails` belongs to a customer other than
// `customer_id`.
absl::Status CheckEmailsFree(const google::protobuf::RepeatedPtrField<std::string>& emails,
                             absl::string_view customer_id, const DecideContext& context) {
  if (emails.empty()) return absl::OkStatus();
  if (!context.email_owner) {
    return crm::status::Error(absl::StatusCode::kInternal,
                              "DecideContext.email_owner is required to set e-mails", "INTERNAL");
  }
  for (const std::string& email : emails) {
    std::optional<std::string> owner = context.email_owner(email);
    if (owner.has_value() && *owner != customer_id) {
      const std::string existing = CustomerName(*owner);
      return crm::status::Error(absl::StatusCode::kAlreadyExists,
                                absl::StrCat("e-mail ", email, " belongs to ", existing),
                                "EMAIL_TAKEN", {{"existing_customer", existing}, {"email", email}});
    }
  }
  return absl::OkStatus();
}

// ALREADY_EXISTS if `external_id` (non-empty) belongs to a customer other than `customer_id`.
absl::Status CheckExternalIdFree(absl::string_view external_id, absl::string_view customer_id,
                                 const DecideContext& context) {
  if (external_id.empty()) return absl::OkStatus();
  if (!context.external_id_owner) {
    return crm::status::Error(absl::StatusCode::kInternal,
                              "DecideContext.external_id_owner is required to set an external id",
                              "INTERNAL");
  }
  std::optional<std::string> owner = context.external_id_owner(external_id);
  if (owner.has_value() && *owner != customer_id) {
    const std::string existing = CustomerName(*owner);
    return crm::status::Error(
        absl::StatusCode::kAlreadyExists,
        absl::StrCat("external id ", external_id, " belongs to ", existing), "EXTERNAL_ID_TAKEN",
        {{"existing_customer", existing}, {"external_id", std::string(external_id)}});
  }
  return absl::OkStatus();
}

// The checks a purchase and a refund share: a purchase id (the caller's order number), an amount
// of money, a business time.
void CheckPurchaseId(absl::string_view id, absl::string_view field, Violations& v) {
  if (!ValidateRequestId(id, field).ok() || id.size() > kMaxPurchaseId) {
    v.Add(field, absl::StrCat("must be at most ", kMaxPurchaseId, " printable ASCII characters"));
  }
}
void CheckAmount(const crm::v1::Money& amount, absl::string_view field, Violations& v) {
  v.Add(ValidateCurrency(amount.currency_code(), absl::StrCat(field, ".currency_code")));
  if (amount.amount_minor() <= 0) {
    v.Add(absl::StrCat(field, ".amount_minor"), "must be positive");
  } else if (amount.amount_minor() > kMaxAmountMinor) {
    v.Add(absl::StrCat(field, ".amount_minor"), absl::StrCat("must be at most ", kMaxAmountMinor));
  }
}
void CheckBusinessTime(const Timestamp& ts, absl::string_view field, absl::Time now,
                       Violations& v) {
  if (!base::IsValidTimestamp(ts)) {
    v.Add(field, "is not a valid timestamp");
  } else if (base::ToTime(ts) > now + kMaxPurchaseFutureSkew) {
    v.Add(field, "must not be more than one day in the future");
  }
}

// Checks the shape of a purchase; collects violations.
void CheckPurchase(const crm::v1::RecordPurchaseRequest& request, absl::Time now, Violations& v) {
  if (!request.has_purchase()) {
    v.Add("purchase", "is required");
    return;
  }
  const crm::v1::Purchase& p = request.purchase();
  CheckPurchaseId(p.purchase_id(), "purchase.purchase_id", v);
  if (!p.has_amount()) {
    v.Add("purchase.amount", "is required");
  } else {
    CheckAmount(p.amount(), "purchase.amount", v);
  }
  v.Add(ValidateText(p.product(), kMaxProduct, /*required=*/true, "purchase.product"));
  if (!p.has_purchased_at()) {
    v.Add("purchase.purchased_at", "is required");
  } else {
    CheckBusinessTime(p.purchased_at(), "purchase.purchased_at", now, v);
  }
}

// Adds `count` purchases of `amount_minor` in all, in currency `code`, the last at `last` (if
// set), to the value figures.
void AddSpend(crm::v1::ValueFigures& value, const std::string& code, int64_t amount_minor,
              int64_t count, const Timestamp* last) {
  auto* totals = value.mutable_totals();
  auto it = std::lower_bound(
      totals->begin(), totals->end(), code,
      [](const crm::v1::CurrencyTotal& t, const std::string& c) { return t.currency_code() < c; });
  crm::v1::CurrencyTotal* total;
  if (it != totals->end() && it->currency_code() == code) {
    total = &*it;
  } else {
    const int index = static_cast<int>(it - totals->begin());
    totals->Add()->set_currency_code(code);
    // Move the new element from the end into its sorted position.
    for (int i = totals->size() - 1; i > index; --i) totals->SwapElements(i, i - 1);
    total = totals->Mutable(index);
  }
  total->set_total_minor(SaturatingAdd(total->total_minor(), amount_minor));
  total->set_purchase_count(total->purchase_count() + count);
  value.set_purchase_count(value.purchase_count() + count);
  if (last != nullptr &&
      (!value.has_last_purchase_time() || TimestampLess(value.last_purchase_time(), *last))) {
    *value.mutable_last_purchase_time() = *last;
  }
}

// Adds one purchase to the value figures.
// Takes `amount_minor` off the spend in `code`; `whole` when the purchase is now wholly refunded,
// which no longer counts as a purchase.
void SubtractRefund(crm::v1::ValueFigures& value, const std::string& code, int64_t amount_minor,
                    bool whole) {
  for (crm::v1::CurrencyTotal& total : *value.mutable_totals()) {
    if (total.currency_code() != code) continue;
    total.set_total_minor(total.total_minor() - amount_minor);
    total.set_refunded_minor(SaturatingAdd(total.refunded_minor(), amount_minor));
    if (whole) {
      total.set_purchase_count(total.purchase_count() - 1);
      value.set_purchase_count(value.purchase_count() - 1);
    }
    return;
  }
}
void AddPurchase(crm::v1::ValueFigures& value, const crm::v1::Purchase& purchase) {
  AddSpend(value, purchase.amount().currency_code(), purchase.amount().amount_minor(), 1,
           purchase.has_purchased_at() ? &purchase.purchased_at() : nullptr);
}

// A merged customer's spend (CustomerMerged) added to the survivor's value figures.
void AddMergedSpend(crm::v1::ValueFigures& value, const crm::events::v1::CustomerMerged& merged) {
  for (const auto& t : merged.merged_totals()) {
    AddSpend(value, t.currency_code(), t.total_minor(), t.purchase_count(), nullptr);
    if (t.refunded_minor() != 0) {
      for (crm::v1::CurrencyTotal& total : *value.mutable_totals()) {
        if (total.currency_code() == t.currency_code()) {
          total.set_refunded_minor(SaturatingAdd(total.refunded_minor(), t.refunded_minor()));
        }
      }
    }
  }
  // Totals carry the counts; the count of purchases without currency totals (none today) and
  // the last time come from the event's own fields.
  int64_t counted = 0;
  for (const auto& t : merged.merged_totals()) counted += t.purchase_count();
  value.set_purchase_count(value.purchase_count() + merged.merged_purchase_count() - counted);
  if (merged.has_merged_last_purchase_time() &&
      (!value.has_last_purchase_time() ||
       TimestampLess(value.last_purchase_time(), merged.merged_last_purchase_time()))) {
    *value.mutable_last_purchase_time() = merged.merged_last_purchase_time();
  }
}

absl::Status MergedError(const State& state) {
  return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                            absl::StrCat(state.name(), " was merged into ", state.merged_into(),
                                         "; send commands to the survivor"),
                            "CUSTOMER_MERGED",
                            {{"customer", state.name()}, {"survivor", state.merged_into()}});
}

Events One(Event event) {
  Events events;
  events.push_back(std::move(event));
  return events;
}

}  // namespace

std::string CustomerName(absl::string_view customer_id) {
  return absl::StrCat(kNamePrefix, customer_id);
}

absl::StatusOr<std::string> ParseCustomerName(absl::string_view name, absl::string_view field) {
  if (name.empty()) return crm::status::InvalidArgument(field, "is required");
  if (!absl::StartsWith(name, kNamePrefix) ||
      !ValidateCustomerId(name.substr(kNamePrefix.size()), field).ok()) {
    return crm::status::InvalidArgument(
        field, "must be customers/{customer_id} with an id of 1 to 63 of [a-z0-9-]");
  }
  return std::string(name.substr(kNamePrefix.size()));
}

bool IsAllowedTransition(LifecycleStage from, LifecycleStage to) {
  using crm::v1::AFTER_SALES;
  using crm::v1::CHURNED;
  using crm::v1::FIRST_CONTACT;
  using crm::v1::LOYAL;
  using crm::v1::NEED_CONFIRMED;
  using crm::v1::POTENTIAL;
  using crm::v1::PURCHASE_DECISION;
  const auto valid = [](LifecycleStage s) {
    return s != crm::v1::LIFECYCLE_STAGE_UNSPECIFIED && crm::v1::LifecycleStage_IsValid(s);
  };
  if (!valid(from) || !valid(to) || from == to) return false;
  if (from == CHURNED) return to == FIRST_CONTACT;  // Win-back.
  if (to == CHURNED) return true;                   // Lost from any stage.
  if (to == from + 1) return true;                  // Forward exactly one step.
  switch (from) {
    case NEED_CONFIRMED:     // The need turned out unconfirmed.
    case PURCHASE_DECISION:  // The deal goes back.
      return to == from - 1;
    case AFTER_SALES:  // A repeat purchase cycle.
      return to == PURCHASE_DECISION;
    case LOYAL:  // Needs after-sales attention again.
      return to == AFTER_SALES;
    default:
      return false;
  }
}

crm::v1::ValueTier TierFor(const crm::v1::ValueFigures& figures) {
  if (figures.purchase_count() <= 0) return crm::v1::POTENTIAL_VALUE;
  if (figures.purchase_count() >= kHighValuePurchaseCount) return crm::v1::HIGH_VALUE;
  for (const auto& total : figures.totals()) {
    if (total.total_minor() >= kHighValueTotalMinor) return crm::v1::HIGH_VALUE;
  }
  return crm::v1::ORDINARY;
}

bool IsCustomerEvent(const Event& event) {
  const int payload = static_cast<int>(event.payload_case());
  if (payload >= 20 && payload < 40) return true;
  // A type this build does not know belongs to the aggregate it names (empty: a customer).
  return IsUnknownEventType(event) &&
         (event.aggregate().empty() || ParseCustomerName(event.aggregate(), "aggregate").ok());
}

std::string EventTypeName(const Event& event) {
  const google::protobuf::OneofDescriptor* oneof = Event::descriptor()->FindOneofByName("payload");
  const google::protobuf::FieldDescriptor* field =
      Event::GetReflection()->GetOneofFieldDescriptor(event, oneof);
  if (field == nullptr || field->message_type() == nullptr) return "";
  return field->message_type()->full_name();
}

absl::StatusOr<Events> DecideRegister(const State& state,
                                      const crm::v1::RegisterCustomerRequest& request,
                                      absl::string_view customer_id, const DecideContext& context) {
  Violations v;
  v.Add(ValidateCustomerId(customer_id, "customer_id"));
  v.Add(ValidateRequestId(request.request_id(), "request_id"));
  const Customer& in = request.customer();
  Customer profile;
  for (absl::string_view path : kProfilePaths) CheckPath(path, in, profile, v);

  LifecycleStage stage = in.lifecycle_stage();
  if (stage == crm::v1::LIFECYCLE_STAGE_UNSPECIFIED) {
    stage = crm::v1::POTENTIAL;
  } else if (!crm::v1::LifecycleStage_IsValid(stage)) {
    v.Add("customer.lifecycle_stage", absl::StrCat("unknown value ", static_cast<int>(stage)));
  } else if (stage == crm::v1::CHURNED) {
    v.Add("customer.lifecycle_stage", "a customer cannot be registered as CHURNED");
  }
  // Fields other commands set, and output-only figures: rejected rather than
  // silently dropped. name, create_time and update_time are ignored (the id
  // comes from customer_id).
  if (!in.owner().empty()) v.Add("customer.owner", "is set by AssignOwner");
  if (!in.team().empty()) v.Add("customer.team", "is set by AssignOwner");
  if (!in.department().empty()) v.Add("customer.department", "is set by AssignOwner");
  if (in.tags_size() > 0) v.Add("customer.tags", "are set by TagCustomer");
  if (in.value_tier() != crm::v1::VALUE_TIER_UNSPECIFIED) {
    v.Add("customer.value_tier", "is output only");
  }
  if (in.has_value()) v.Add("customer.value", "is output only");
  if (in.version() != 0) v.Add("customer.version", "is output only");
  if (!in.etag().empty()) v.Add("customer.etag", "is output only");
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (state.version() != 0) {
    const std::string name = CustomerName(customer_id);
    return crm::status::Error(absl::StatusCode::kAlreadyExists,
                              absl::StrCat(name, " already exists"), "CUSTOMER_ALREADY_EXISTS",
                              {{"customer", name}});
  }
  if (absl::Status status = CheckEmailsFree(profile.emails(), customer_id, context); !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckExternalIdFree(profile.external_id(), customer_id, context);
      !status.ok()) {
    return status;
  }

  Event event;
  auto* registered = event.mutable_customer_registered();
  *registered->mutable_profile() = ToEvent(profile);
  registered->set_lifecycle_stage(ToEvent(stage));
  return One(std::move(event));
}

std::vector<std::string> SetProfilePaths(const crm::v1::Customer& customer) {
  std::vector<std::string> out;
  for (absl::string_view path : kProfilePaths) {
    if (PathIsSet(path, customer)) out.emplace_back(path);
  }
  return out;
}

absl::StatusOr<Events> DecideUpdate(const State& state,
                                    const crm::v1::UpdateCustomerRequest& request,
                                    const DecideContext& context) {
  Violations v;
  const Customer& in = request.customer();
  const Target target =
      CheckTarget(in.name(), "customer.name", request.request_id(), request.etag(), v);

  // The effective mask, in canonical order.
  std::set<absl::string_view> requested;
  bool all = false;
  const auto& paths = request.update_mask().paths();
  for (int i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    if (path == "*") {
      if (paths.size() != 1) {
        v.Add(Indexed("update_mask.paths", i), "\"*\" must be the only path");
      }
      all = true;
      continue;
    }
    auto it = std::find(kProfilePaths.begin(), kProfilePaths.end(), path);
    if (it == kProfilePaths.end()) {
      v.Add(Indexed("update_mask.paths", i),
            absl::StrCat("\"", path, "\" cannot be updated; allowed: ",
                         absl::StrJoin(kProfilePaths, ", "), " or \"*\""));
      continue;
    }
    requested.insert(*it);
  }
  std::vector<absl::string_view> mask;
  for (absl::string_view path : kProfilePaths) {
    const bool selected = all || (paths.empty() ? PathIsSet(path, in) : requested.count(path) > 0);
    if (selected) mask.push_back(path);
  }
  Customer profile;
  for (absl::string_view path : mask) CheckPath(path, in, profile, v);
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (absl::Status status = CheckState(state, target); !status.ok()) return status;

  Event event;
  auto* updated = event.mutable_customer_profile_updated();
  Customer changed;
  for (absl::string_view path : mask) {
    if (PathEquals(path, profile, state)) continue;
    updated->add_changed_paths(std::string(path));
    CopyPath(path, profile, changed);
  }
  if (updated->changed_paths().empty()) return Events();
  *updated->mutable_profile() = ToEvent(changed);
  if (std::find(updated->changed_paths().begin(), updated->changed_paths().end(), "emails") !=
      updated->changed_paths().end()) {
    const std::string id = target.name.substr(kNamePrefix.size());
    if (absl::Status status = CheckEmailsFree(profile.emails(), id, context); !status.ok()) {
      return status;
    }
  }
  if (std::find(updated->changed_paths().begin(), updated->changed_paths().end(), "external_id") !=
      updated->changed_paths().end()) {
    const std::string id = target.name.substr(kNamePrefix.size());
    if (absl::Status status = CheckExternalIdFree(profile.external_id(), id, context);
        !status.ok()) {
      return status;
    }
  }
  return One(std::move(event));
}

absl::StatusOr<Events> DecideChangeLifecycleStage(
    const State& state, const crm::v1::ChangeLifecycleStageRequest& request,
    const DecideContext& context) {
  Violations v;
  const Target target =
      CheckTarget(request.name(), "name", request.request_id(), request.etag(), v);
  const LifecycleStage to = request.lifecycle_stage();
  if (to == crm::v1::LIFECYCLE_STAGE_UNSPECIFIED) {
    v.Add("lifecycle_stage", "is required");
  } else if (!crm::v1::LifecycleStage_IsValid(to)) {
    v.Add("lifecycle_stage", absl::StrCat("unknown value ", static_cast<int>(to)));
  }
  v.Add(ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (absl::Status status = CheckState(state, target); !status.ok()) return status;

  const LifecycleStage from = state.lifecycle_stage();
  if (from == to) return Events();
  if (!IsAllowedTransition(from, to)) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat(target.name, " cannot move from ", StageName(from), " to ", StageName(to),
                     " (see the lifecycle transition table)"),
        "TRANSITION_NOT_ALLOWED", {{"from", StageName(from)}, {"to", StageName(to)}});
  }
  Event event;
  auto* changed = event.mutable_lifecycle_stage_changed();
  changed->set_from_stage(ToEvent(from));
  changed->set_to_stage(ToEvent(to));
  changed->set_reason(request.reason());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideAssignOwner(const State& state,
                                         const crm::v1::AssignOwnerRequest& request,
                                         const DecideContext& context) {
  Violations v;
  const Target target =
      CheckTarget(request.name(), "name", request.request_id(), request.etag(), v);
  v.Add(ValidateStaffId(request.owner(), "owner"));
  v.Add(ValidateText(request.team(), kMaxShortText, /*required=*/false, "team"));
  v.Add(ValidateText(request.department(), kMaxShortText, /*required=*/false, "department"));
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (absl::Status status = CheckState(state, target); !status.ok()) return status;

  if (state.owner() == request.owner() && state.team() == request.team() &&
      state.department() == request.department()) {
    return Events();
  }
  Event event;
  auto* assigned = event.mutable_owner_assigned();
  assigned->set_owner(request.owner());
  assigned->set_previous_owner(state.owner());
  assigned->set_team(request.team());
  assigned->set_department(request.department());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideUnassignOwner(const State& state,
                                           const crm::v1::UnassignOwnerRequest& request,
                                           const DecideContext& context) {
  Violations v;
  const Target target =
      CheckTarget(request.name(), "name", request.request_id(), request.etag(), v);
  v.Add(ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (absl::Status status = CheckState(state, target); !status.ok()) return status;

  if (state.owner().empty()) return Events();
  Event event;
  auto* cleared = event.mutable_owner_unassigned();
  cleared->set_previous_owner(state.owner());
  cleared->set_reason(request.reason());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideTag(const State& state, const crm::v1::TagCustomerRequest& request,
                                 const DecideContext& context) {
  Violations v;
  const Target target =
      CheckTarget(request.name(), "name", request.request_id(), request.etag(), v);
  auto tag = NormalizeTag(request.tag(), "tag");
  v.Check(tag);
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (absl::Status status = CheckState(state, target); !status.ok()) return status;

  if (std::find(state.tags().begin(), state.tags().end(), *tag) != state.tags().end()) {
    return Events();
  }
  if (static_cast<size_t>(state.tags_size()) >= kMaxTags) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat(target.name, " already has ", state.tags_size(),
                                           " tags, the most allowed; remove one first"),
                              "TOO_MANY_TAGS",
                              {{"customer", target.name}, {"limit", absl::StrCat(kMaxTags)}});
  }
  Event event;
  event.mutable_customer_tagged()->set_tag(*tag);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideUntag(const State& state, const crm::v1::UntagCustomerRequest& request,
                                   const DecideContext& context) {
  Violations v;
  const Target target =
      CheckTarget(request.name(), "name", request.request_id(), request.etag(), v);
  auto tag = NormalizeTag(request.tag(), "tag");
  v.Check(tag);
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (absl::Status status = CheckState(state, target); !status.ok()) return status;

  if (std::find(state.tags().begin(), state.tags().end(), *tag) == state.tags().end()) {
    return Events();
  }
  Event event;
  event.mutable_customer_untagged()->set_tag(*tag);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideRecordPurchase(const State& state,
                                            const crm::v1::RecordPurchaseRequest& request,
                                            const DecideContext& context) {
  Violations v;
  const Target target =
      CheckTarget(request.name(), "name", request.request_id(), request.etag(), v);
  CheckPurchase(request, context.now, v);
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (absl::Status status = CheckState(state, target); !status.ok()) return status;
  if (const std::string& id = request.purchase().purchase_id();
      !id.empty() && context.find_purchase) {
    CRM_ASSIGN_OR_RETURN(std::optional<RecordedPurchase> existing, context.find_purchase(id));
    if (existing.has_value()) {
      return crm::status::Error(
          absl::StatusCode::kAlreadyExists,
          absl::StrCat("purchase ", id, " of ", target.name, " is recorded already"),
          "PURCHASE_EXISTS", {{"purchase_id", id}});
    }
  }

  crm::v1::ValueFigures after = state.value();
  AddPurchase(after, request.purchase());
  const ValueTier tier = TierFor(after);

  Event event;
  *event.mutable_occurred_at() = request.purchase().purchased_at();
  auto* recorded = event.mutable_purchase_recorded();
  *recorded->mutable_purchase() = ToEvent(request.purchase());
  recorded->set_new_value_tier(
      ToEvent(tier != state.value_tier() ? tier : crm::v1::VALUE_TIER_UNSPECIFIED));
  return One(std::move(event));
}

absl::StatusOr<Events> DecideRefundPurchase(const State& state,
                                            const crm::v1::RefundPurchaseRequest& request,
                                            const DecideContext& context) {
  Violations v;
  const Target target =
      CheckTarget(request.name(), "name", request.request_id(), request.etag(), v);
  if (request.purchase_id().empty()) {
    v.Add("purchase_id", "is required");
  } else {
    CheckPurchaseId(request.purchase_id(), "purchase_id", v);
  }
  if (request.has_amount()) CheckAmount(request.amount(), "amount", v);
  v.Add(ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (request.has_refunded_at()) {
    CheckBusinessTime(request.refunded_at(), "refunded_at", context.now, v);
  }
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;
  if (absl::Status status = CheckState(state, target); !status.ok()) return status;
  if (!context.find_purchase) {
    return crm::status::Error(absl::StatusCode::kInternal,
                              "DecideContext.find_purchase is required to refund", "INTERNAL");
  }
  CRM_ASSIGN_OR_RETURN(std::optional<RecordedPurchase> found,
                       context.find_purchase(request.purchase_id()));
  if (!found.has_value()) {
    return crm::status::Error(
        absl::StatusCode::kNotFound,
        absl::StrCat("purchase ", request.purchase_id(), " of ", target.name, " is not recorded"),
        "PURCHASE_NOT_FOUND", {{"purchase_id", request.purchase_id()}});
  }
  const crm::v1::Purchase& purchase = found->purchase;
  const std::string& currency = purchase.amount().currency_code();
  Violations late;
  if (request.has_amount() && request.amount().currency_code() != currency) {
    late.Add("amount.currency_code", absl::StrCat("must be the purchase's currency, ", currency));
  }
  const absl::Time at =
      request.has_refunded_at() ? base::ToTime(request.refunded_at()) : context.now;
  if (purchase.has_purchased_at() && at < base::ToTime(purchase.purchased_at())) {
    late.Add("refunded_at",
             absl::StrCat("must not be before the purchase (",
                          absl::FormatTime(base::ToTime(purchase.purchased_at())), ")"));
  }
  if (absl::Status status = late.ToStatus(); !status.ok()) return status;
  const int64_t refundable = purchase.amount().amount_minor() - found->refunded_minor;
  if (refundable <= 0) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("purchase ", request.purchase_id(), " is wholly refunded already"),
        "PURCHASE_ALREADY_REFUNDED", {{"purchase_id", request.purchase_id()}});
  }
  const int64_t amount = request.has_amount() ? request.amount().amount_minor() : refundable;
  if (amount > refundable) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("refund of ", amount, " exceeds the ", refundable, " ", currency,
                     " minor units of purchase ", request.purchase_id(), " not refunded yet"),
        "REFUND_EXCEEDS_PURCHASE",
        {{"purchase_id", request.purchase_id()}, {"refundable_minor", absl::StrCat(refundable)}});
  }

  crm::v1::ValueFigures after = state.value();
  const int64_t refunded = found->refunded_minor + amount;
  SubtractRefund(after, currency, amount, refunded == purchase.amount().amount_minor());
  const ValueTier tier = TierFor(after);

  Event event;
  *event.mutable_occurred_at() = base::ToTimestamp(at);
  auto* r = event.mutable_purchase_refunded();
  *r->mutable_purchase() = ToEvent(purchase);
  r->mutable_amount()->set_currency_code(currency);
  r->mutable_amount()->set_amount_minor(amount);
  r->set_refunded_minor(refunded);
  r->set_reason(request.reason());
  r->set_sold_by_owner(found->owner);
  r->set_sold_by_team(found->team);
  r->set_sold_by_department(found->department);
  r->set_new_value_tier(
      ToEvent(tier != state.value_tier() ? tier : crm::v1::VALUE_TIER_UNSPECIFIED));
  return One(std::move(event));
}

absl::Status CheckNotMerged(const State& state) {
  return state.merged_into().empty() ? absl::OkStatus() : MergedError(state);
}

absl::Status CheckActive(const State& state) {
  CRM_RETURN_IF_ERROR(CheckNotMerged(state));
  if (!state.has_archive_time()) return absl::OkStatus();
  return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                            absl::StrCat(state.name(), " is archived; unarchive it first"),
                            "CUSTOMER_ARCHIVED", {{"customer", state.name()}});
}

namespace {

// ArchiveCustomer (`archive`) and UnarchiveCustomer: the same checks; an event only for a change.
absl::StatusOr<Events> DecideArchived(const State& state, absl::string_view name,
                                      absl::string_view reason, absl::string_view request_id,
                                      absl::string_view etag, bool archive) {
  Violations v;
  const Target target = CheckTarget(name, "name", request_id, etag, v);
  v.Add(ValidateText(reason, kMaxReason, /*required=*/false, "reason"));
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;
  CRM_RETURN_IF_ERROR(CheckExists(state, target));
  if (state.has_archive_time() == archive) return Events();
  Event event;
  if (archive) {
    event.mutable_customer_archived()->set_reason(std::string(reason));
  } else {
    event.mutable_customer_unarchived()->set_reason(std::string(reason));
  }
  return One(std::move(event));
}

}  // namespace

absl::StatusOr<Events> DecideArchive(const State& state,
                                     const crm::v1::ArchiveCustomerRequest& request,
                                     const DecideContext& context) {
  return DecideArchived(state, request.name(), request.reason(), request.request_id(),
                        request.etag(), /*archive=*/true);
}

absl::StatusOr<Events> DecideUnarchive(const State& state,
                                       const crm::v1::UnarchiveCustomerRequest& request,
                                       const DecideContext& context) {
  return DecideArchived(state, request.name(), request.reason(), request.request_id(),
                        request.etag(), /*archive=*/false);
}

absl::StatusOr<MergeDecision> DecideMerge(const State& survivor, const State& merged,
                                          const crm::v1::MergeCustomersRequest& request,
                                          const MergeCounts& counts, const DecideContext& context) {
  Violations v;
  const Target s_target = CheckTarget(request.survivor(), "survivor", request.request_id(), "", v);
  Target m_target;
  {
    auto id = ParseCustomerName(request.merged(), "merged");
    if (v.Check(id)) m_target.name = CustomerName(*id);
  }
  Target s_etag, m_etag;
  if (!request.survivor_etag().empty()) {
    auto version = ParseEtag(request.survivor_etag(), "survivor_etag");
    if (v.Check(version)) s_etag.etag_version = *version;
  }
  if (!request.merged_etag().empty()) {
    auto version = ParseEtag(request.merged_etag(), "merged_etag");
    if (v.Check(version)) m_etag.etag_version = *version;
  }
  if (!s_target.name.empty() && s_target.name == m_target.name) {
    v.Add("merged", "must name another customer than survivor");
  }
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (survivor.version() == 0) return NotFound(s_target.name);
  if (merged.version() == 0) return NotFound(m_target.name);
  auto stale = [](const State& state, const Target& etag, absl::string_view name) -> absl::Status {
    if (etag.etag_version.has_value() && *etag.etag_version != state.version()) {
      return crm::status::StaleEtag(name, "customer", *etag.etag_version, state.version());
    }
    return absl::OkStatus();
  };
  if (absl::Status s = stale(survivor, s_etag, s_target.name); !s.ok()) return s;
  if (absl::Status s = stale(merged, m_etag, m_target.name); !s.ok()) return s;
  if (merged.merged_into() == s_target.name) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat(m_target.name, " is already merged into ", s_target.name), "ALREADY_MERGED",
        {{"customer", m_target.name}, {"survivor", s_target.name}});
  }
  if (absl::Status s = CheckActive(merged); !s.ok()) return s;
  if (absl::Status s = CheckActive(survivor); !s.ok()) return s;

  MergeDecision out;
  crm::v1::MergeSummary& summary = out.summary;
  summary.set_interaction_count(counts.interactions);
  summary.set_complaint_count(counts.complaints);
  summary.set_purchase_count(merged.value().purchase_count());

  // What the survivor keeps: its own values; it takes the merged customer's where it has none,
  // and the union of contact points, attributes and tags.
  Customer changed;
  std::vector<std::string> paths;
  auto add_missing = [](const auto& mine, const auto& theirs, auto* out_list,
                        std::vector<std::string>& added) {
    *out_list = mine;
    for (const std::string& x : theirs) {
      if (std::find(mine.begin(), mine.end(), x) == mine.end()) {
        out_list->Add(std::string(x));
        added.push_back(x);
      }
    }
    std::sort(added.begin(), added.end());
  };
  std::vector<std::string> emails, phones, tags;
  add_missing(survivor.emails(), merged.emails(), changed.mutable_emails(), emails);
  add_missing(survivor.phones(), merged.phones(), changed.mutable_phones(), phones);
  auto limit = [&](size_t size, size_t max, absl::string_view what,
                   absl::string_view reason) -> absl::Status {
    if (size <= max) return absl::OkStatus();
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("together the two customers have ", size, " ", what, "; at most ", max,
                     " are allowed: remove some from one of them first"),
        std::string(reason), {{"limit", absl::StrCat(max)}});
  };
  CRM_RETURN_IF_ERROR(limit(changed.emails_size(), kMaxEmails, "e-mails", "TOO_MANY_EMAILS"));
  CRM_RETURN_IF_ERROR(limit(changed.phones_size(), kMaxPhones, "phones", "TOO_MANY_PHONES"));
  // Addresses, social ids and contact persons: the union, the survivor's first. The merged
  // customer's primary contact is not primary on the survivor if the survivor has one.
  auto add_missing_messages = [](const auto& mine, const auto& theirs, auto* out_list) {
    *out_list = mine;
    bool added = false;
    for (const auto& x : theirs) {
      if (!Contains(mine, x)) {
        *out_list->Add() = x;
        added = true;
      }
    }
    return added;
  };
  const bool added_addresses =
      add_missing_messages(survivor.addresses(), merged.addresses(), changed.mutable_addresses());
  const bool added_social_ids = add_missing_messages(survivor.social_ids(), merged.social_ids(),
                                                     changed.mutable_social_ids());
  CRM_RETURN_IF_ERROR(
      limit(changed.addresses_size(), kMaxAddresses, "addresses", "TOO_MANY_ADDRESSES"));
  CRM_RETURN_IF_ERROR(
      limit(changed.social_ids_size(), kMaxSocialIds, "social ids", "TOO_MANY_SOCIAL_IDS"));
  const bool survivor_has_primary =
      std::any_of(survivor.contacts().begin(), survivor.contacts().end(),
                  [](const crm::v1::ContactPerson& c) { return c.primary(); });
  google::protobuf::RepeatedPtrField<crm::v1::ContactPerson> merged_contacts = merged.contacts();
  if (survivor_has_primary) {
    for (crm::v1::ContactPerson& c : merged_contacts) c.set_primary(false);
  }
  const bool added_contacts =
      add_missing_messages(survivor.contacts(), merged_contacts, changed.mutable_contacts());
  CRM_RETURN_IF_ERROR(
      limit(changed.contacts_size(), kMaxContactPersons, "contacts", "TOO_MANY_CONTACTS"));
  if (added_addresses) paths.push_back("addresses");
  if (added_social_ids) paths.push_back("social_ids");
  if (added_contacts) paths.push_back("contacts");
  for (const std::string& t : merged.tags()) {
    if (std::find(survivor.tags().begin(), survivor.tags().end(), t) == survivor.tags().end()) {
      tags.push_back(t);
    }
  }
  CRM_RETURN_IF_ERROR(limit(survivor.tags_size() + tags.size(), kMaxTags, "tags", "TOO_MANY_TAGS"));
  if (!emails.empty()) paths.push_back("emails");
  if (!phones.empty()) paths.push_back("phones");
  std::vector<std::string> filled;
  for (absl::string_view path :
       {"display_name", "kind", "region", "industry", "acquisition_source", "external_id"}) {
    if (!PathIsSet(path, survivor) && PathIsSet(path, merged)) {
      CopyPath(path, merged, changed);
      paths.emplace_back(path);
      filled.emplace_back(path);
    }
  }
  *changed.mutable_attributes() = survivor.attributes();
  std::vector<std::string> keys;
  for (const auto& [key, value] : merged.attributes()) {
    if (!survivor.attributes().contains(key)) {
      (*changed.mutable_attributes())[key] = value;
      keys.push_back(key);
    }
  }
  CRM_RETURN_IF_ERROR(
      limit(changed.attributes_size(), kMaxAttributes, "attributes", "TOO_MANY_ATTRIBUTES"));
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) filled.push_back(Keyed("attributes", key));
  if (!keys.empty()) paths.push_back("attributes");
  // changed_paths in the canonical order.
  std::vector<std::string> ordered;
  for (absl::string_view path : kProfilePaths) {
    if (std::find(paths.begin(), paths.end(), path) != paths.end()) ordered.emplace_back(path);
  }

  auto* m = out.survivor_event.mutable_customer_merged();
  m->set_merged_customer_id(m_target.name.substr(kNamePrefix.size()));
  m->set_merged_customer_version(merged.version());
  for (const std::string& path : ordered) m->add_changed_paths(path);
  Customer profile;
  for (const std::string& path : ordered) CopyPath(path, changed, profile);
  *m->mutable_profile() = ToEvent(profile);
  for (const std::string& t : tags) m->add_added_tags(t);
  for (const auto& t : merged.value().totals()) {
    auto* total = m->add_merged_totals();
    total->set_currency_code(t.currency_code());
    total->set_total_minor(t.total_minor());
    total->set_purchase_count(t.purchase_count());
    total->set_refunded_minor(t.refunded_minor());
  }
  m->set_merged_purchase_count(merged.value().purchase_count());
  int64_t listed = 0;
  for (const RecordedPurchase& p : counts.purchases) {
    if (p.refunded_minor >= p.purchase.amount().amount_minor()) continue;  // wholly refunded
    auto* moved = m->add_merged_purchases();
    *moved->mutable_purchase() = ToEvent(p.purchase);
    moved->set_refunded_minor(p.refunded_minor);
    moved->set_sold_by_owner(p.owner);
    moved->set_sold_by_team(p.team);
    moved->set_sold_by_department(p.department);
    ++listed;
  }
  m->set_purchases_moved(listed == merged.value().purchase_count());
  if (merged.value().has_last_purchase_time()) {
    *m->mutable_merged_last_purchase_time() = merged.value().last_purchase_time();
  }
  crm::v1::ValueFigures after = survivor.value();
  AddMergedSpend(after, *m);
  const ValueTier tier = TierFor(after);
  m->set_new_value_tier(
      ToEvent(tier != survivor.value_tier() ? tier : crm::v1::VALUE_TIER_UNSPECIFIED));
  m->set_merged_interaction_count(counts.interactions);
  m->set_merged_complaint_count(counts.complaints);
  for (const std::string& e : emails) m->add_added_emails(e);
  for (const std::string& p : phones) m->add_added_phones(p);
  for (const std::string& f : filled) m->add_filled_fields(f);

  out.merged_event.mutable_customer_merged_into()->set_survivor_id(
      s_target.name.substr(kNamePrefix.size()));
  out.merged_event.mutable_customer_merged_into()->set_purchases_moved(m->purchases_moved());

  for (const std::string& t : tags) summary.add_tags(t);
  for (const std::string& e : emails) summary.add_emails(e);
  for (const std::string& p : phones) summary.add_phones(p);
  for (const std::string& f : filled) summary.add_filled_fields(f);
  return out;
}

absl::Status Apply(State& state, const Event& event) {
  using Payload = Event::PayloadCase;
  const bool unknown = IsUnknownEventType(event);
  if (event.payload_case() == Event::PAYLOAD_NOT_SET && !unknown) {
    return crm::status::Error(
        absl::StatusCode::kDataLoss,
        absl::StrCat("event ", event.event_id(), " of customer ", event.customer_id(),
                     " at version ", event.aggregate_version(), " has no payload"),
        "EVENT_WITHOUT_PAYLOAD",
        {{"event_id", event.event_id()}, {"customer_id", event.customer_id()}});
  }
  const std::string name = CustomerName(event.customer_id());
  if (event.customer_id().empty() || (state.version() != 0 && state.name() != name)) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event of customer \"", event.customer_id(), "\" applied to ",
                     state.name().empty() ? "an unregistered customer" : state.name()),
        "CUSTOMER_MISMATCH",
        {{"event_customer_id", event.customer_id()}, {"customer", state.name()}});
  }
  if (event.aggregate_version() != state.version() + 1) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event version ", event.aggregate_version(), " applied to ", name,
                     " at version ", state.version(), "; expected ", state.version() + 1),
        "VERSION_MISMATCH",
        {{"customer", name},
         {"event_version", absl::StrCat(event.aggregate_version())},
         {"state_version", absl::StrCat(state.version())}});
  }
  if (event.payload_case() != Event::PAYLOAD_NOT_SET && !IsCustomerEvent(event)) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat(EventTypeName(event), " is not a customer event"),
                              "NOT_A_CUSTOMER_EVENT", {{"customer", name}});
  }
  if (unknown) {  // a newer writer's type: only the version moves (events README, "Readers")
    state.set_version(event.aggregate_version());
    state.set_etag(Etag(state.version()));
    *state.mutable_update_time() = event.recorded_at();
    return absl::OkStatus();
  }
  const bool is_registration = event.payload_case() == Payload::kCustomerRegistered;
  if (is_registration != (state.version() == 0)) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        is_registration ? absl::StrCat(name, " is registered twice")
                        : absl::StrCat("the first event of ", name, " is ", EventTypeName(event),
                                       ", not crm.events.v1.CustomerRegistered"),
        "EVENT_OUT_OF_ORDER", {{"customer", name}});
  }

  switch (event.payload_case()) {
    case Payload::kCustomerRegistered: {
      const auto& registered = event.customer_registered();
      const Customer profile = ToApi(registered.profile());
      for (absl::string_view path : kProfilePaths) CopyPath(path, profile, state);
      const LifecycleStage stage = ToApi(registered.lifecycle_stage());
      state.set_lifecycle_stage(stage == crm::v1::LIFECYCLE_STAGE_UNSPECIFIED ? crm::v1::POTENTIAL
                                                                              : stage);
      state.set_value_tier(crm::v1::POTENTIAL_VALUE);
      *state.mutable_create_time() = event.recorded_at();
      break;
    }
    case Payload::kCustomerProfileUpdated: {
      // Paths this code does not know (from a newer writer) are skipped; the
      // envelope's schema_version tells when that would lose meaning.
      const auto& updated = event.customer_profile_updated();
      const Customer profile = ToApi(updated.profile());
      for (const std::string& path : updated.changed_paths()) CopyPath(path, profile, state);
      break;
    }
    case Payload::kLifecycleStageChanged:
      state.set_lifecycle_stage(ToApi(event.lifecycle_stage_changed().to_stage()));
      break;
    case Payload::kOwnerAssigned: {
      const auto& assigned = event.owner_assigned();
      state.set_owner(assigned.owner());
      state.set_team(assigned.team());
      state.set_department(assigned.department());
      break;
    }
    case Payload::kOwnerUnassigned:
      state.clear_owner();
      state.clear_team();
      state.clear_department();
      break;
    case Payload::kCustomerTagged: {
      const std::string& tag = event.customer_tagged().tag();
      auto* tags = state.mutable_tags();
      auto it = std::lower_bound(tags->begin(), tags->end(), tag);
      if (it == tags->end() || *it != tag) {
        const int index = static_cast<int>(it - tags->begin());
        tags->Add(std::string(tag));
        for (int i = tags->size() - 1; i > index; --i) tags->SwapElements(i, i - 1);
      }
      break;
    }
    case Payload::kCustomerUntagged: {
      const std::string& tag = event.customer_untagged().tag();
      auto* tags = state.mutable_tags();
      tags->erase(std::remove(tags->begin(), tags->end(), tag), tags->end());
      break;
    }
    case Payload::kPurchaseRecorded:
      AddPurchase(*state.mutable_value(), ToApi(event.purchase_recorded().purchase()));
      state.set_value_tier(TierFor(state.value()));
      break;
    case Payload::kPurchaseRefunded: {
      const auto& r = event.purchase_refunded();
      SubtractRefund(*state.mutable_value(), r.amount().currency_code(), r.amount().amount_minor(),
                     r.refunded_minor() == r.purchase().amount().amount_minor());
      state.set_value_tier(TierFor(state.value()));
      break;
    }
    case Payload::kCustomerMerged: {
      const auto& merged = event.customer_merged();
      const Customer profile = ToApi(merged.profile());
      for (const std::string& path : merged.changed_paths()) CopyPath(path, profile, state);
      auto* tags = state.mutable_tags();
      for (const std::string& tag : merged.added_tags()) {
        if (std::find(tags->begin(), tags->end(), tag) == tags->end()) tags->Add(std::string(tag));
      }
      std::sort(tags->begin(), tags->end());
      AddMergedSpend(*state.mutable_value(), merged);
      state.set_value_tier(TierFor(state.value()));
      auto* record = state.add_merged_customers();
      record->set_name(CustomerName(merged.merged_customer_id()));
      *record->mutable_merge_time() = event.recorded_at();
      auto* summary = record->mutable_summary();
      summary->set_interaction_count(merged.merged_interaction_count());
      summary->set_complaint_count(merged.merged_complaint_count());
      summary->set_purchase_count(merged.merged_purchase_count());
      *summary->mutable_tags() = merged.added_tags();
      *summary->mutable_emails() = merged.added_emails();
      *summary->mutable_phones() = merged.added_phones();
      *summary->mutable_filled_fields() = merged.filled_fields();
      break;
    }
    case Payload::kCustomerMergedInto:
      state.set_merged_into(CustomerName(event.customer_merged_into().survivor_id()));
      break;
    case Payload::kCustomerArchived:
      *state.mutable_archive_time() = event.occurred_at();
      break;
    case Payload::kCustomerUnarchived:
      state.clear_archive_time();
      break;
    default:
      break;  // No payload, or not a customer event: rejected above.
  }

  state.set_name(name);
  state.set_version(event.aggregate_version());
  state.set_etag(Etag(state.version()));
  *state.mutable_update_time() = event.recorded_at();
  return absl::OkStatus();
}

}  // namespace crm::domain::customer
