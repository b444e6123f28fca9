#include "projections/customer/customer_view_fold.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/common/event_types.h"
#include "domain/customer/customer_aggregate.h"
#include "readmodel/customer/text_fold.h"
#include "readmodel/customer/view_keys.h"

namespace crm::projections::customer {
namespace {

using crm::v1::Customer;
using readmodel::customer::Index;
using readmodel::customer::SearchField;

// Every (index, value) entry a customer record has.
// A merged customer has none: it is found, listed and searched as its survivor.
std::set<std::pair<Index, std::string>> IndexEntries(const Customer& c) {
  std::set<std::pair<Index, std::string>> out;
  if (c.version() == 0 || !c.merged_into().empty()) return out;
  for (const auto& e : c.emails()) out.emplace(Index::kEmail, e);
  for (const auto& p : c.phones()) out.emplace(Index::kPhone, p);
  for (const auto& t : c.tags()) out.emplace(Index::kTag, t);
  if (!c.external_id().empty()) out.emplace(Index::kExternalId, c.external_id());
  for (const auto& s : c.social_ids()) {
    out.emplace(Index::kSocialId, readmodel::customer::SocialIdValue(
                                      crm::v1::SocialNetwork_Name(s.network()), s.handle()));
  }
  for (const auto& person : c.contacts()) {
    for (const auto& e : person.emails()) out.emplace(Index::kContactEmail, e);
    for (const auto& p : person.phones()) out.emplace(Index::kContactPhone, p);
  }
  if (!c.owner().empty()) out.emplace(Index::kOwner, c.owner());
  out.emplace(Index::kStage, crm::v1::LifecycleStage_Name(c.lifecycle_stage()));
  out.emplace(Index::kTier, crm::v1::ValueTier_Name(c.value_tier()));
  return out;
}

// Every search index key a customer record has (view_keys.h, s/).
std::set<std::string> SearchKeys(const Customer& c, absl::string_view id) {
  std::set<std::string> out;
  if (c.version() == 0 || !c.merged_into().empty()) return out;
  const std::string name = readmodel::customer::FoldText(c.display_name());
  auto add = [&](SearchField field, absl::string_view value) {
    out.insert(readmodel::customer::SearchKey(field, value, name, id));
  };
  add(SearchField::kAll, "");
  if (!c.region().empty()) add(SearchField::kRegion, readmodel::customer::FoldText(c.region()));
  if (!c.industry().empty()) {
    add(SearchField::kIndustry, readmodel::customer::FoldText(c.industry()));
  }
  if (c.kind() != crm::v1::CUSTOMER_KIND_UNSPECIFIED) {
    add(SearchField::kKind, crm::v1::CustomerKind_Name(c.kind()));
  }
  add(SearchField::kStage, crm::v1::LifecycleStage_Name(c.lifecycle_stage()));
  add(SearchField::kTier, crm::v1::ValueTier_Name(c.value_tier()));
  if (!c.owner().empty()) add(SearchField::kOwner, c.owner());
  for (const auto& t : c.tags()) add(SearchField::kTag, t);
  return out;
}

}  // namespace

absl::Status CustomerViewFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  crm::events::v1::EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  // A payload-less record that is not of an unknown type is damaged: customer Apply dead-letters
  // it.
  if ((event.payload_case() != event.PAYLOAD_NOT_SET || domain::IsUnknownEventType(event)) &&
      !domain::customer::IsCustomerEvent(event)) {
    return absl::OkStatus();  // another area's event
  }
  if (event.customer_id().empty()) {
    return absl::DataLossError("customer event without a customer id");
  }
  if (!event.customer_id().empty() && event.customer_id() != record.key && !record.key.empty()) {
    return absl::DataLossError(absl::StrCat("record key '", record.key,
                                            "' differs from the event's customer id '",
                                            event.customer_id(), "'"));
  }
  const std::string& id = event.customer_id();
  const std::string key = readmodel::customer::CustomerKey(id);

  Customer before;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  if (stored.has_value() && !before.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("view of customer ", id, " cannot be decoded"));
  }
  if (event.aggregate_version() <= before.version()) return absl::OkStatus();  // seen already

  Customer after = before;
  absl::Status applied = domain::customer::Apply(after, event);
  if (!applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of customer ", id,
                                            " cannot be applied: ", applied.message()));
  }

  const auto old_entries = IndexEntries(before);
  const auto new_entries = IndexEntries(after);
  for (const auto& [index, value] : old_entries) {
    if (!new_entries.count({index, value})) {
      batch.Delete(readmodel::customer::IndexKey(index, value, id));
    }
  }
  for (const auto& [index, value] : new_entries) {
    if (!old_entries.count({index, value})) {
      batch.Put(readmodel::customer::IndexKey(index, value, id), "");
    }
  }
  const auto old_search = SearchKeys(before, id);
  const auto new_search = SearchKeys(after, id);
  for (const auto& k : old_search) {
    if (!new_search.count(k)) batch.Delete(k);
  }
  for (const auto& k : new_search) {
    if (!old_search.count(k)) batch.Put(k, "");
  }
  batch.Put(key, base::SerializeDeterministic(after));
  batch.Put(readmodel::customer::HistoryKey(id, event.aggregate_version()), record.value);
  return absl::OkStatus();
}

}  // namespace crm::projections::customer
