#include "readmodel/customer/customer_views.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace crm::readmodel::customer {
namespace {

using crm::v1::Customer;

bool Matches(const CustomerViews::Filter& f, const Customer& c) {
  if (f.stage != crm::v1::LIFECYCLE_STAGE_UNSPECIFIED && c.lifecycle_stage() != f.stage) {
    return false;
  }
  if (!f.owner.empty() && c.owner() != f.owner) return false;
  if (f.tier != crm::v1::VALUE_TIER_UNSPECIFIED && c.value_tier() != f.tier) return false;
  if (!f.tag.empty()) {
    bool found = false;
    for (const auto& t : c.tags()) found |= (t == f.tag);
    if (!found) return false;
  }
  return true;
}

absl::Status Corrupt(absl::string_view key) {
  return absl::DataLossError(absl::StrCat("view entry cannot be decoded: ", key));
}

}  // namespace

absl::StatusOr<std::optional<Customer>> CustomerViews::Get(absl::string_view id) const {
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(CustomerKey(id)));
  if (!value.has_value()) return std::nullopt;
  Customer customer;
  if (!customer.ParseFromString(*value)) return Corrupt(CustomerKey(id));
  return customer;
}

absl::StatusOr<CustomerViews::Page> CustomerViews::List(const Filter& filter,
                                                        absl::string_view after_id,
                                                        size_t page_size) const {
  // Drive the scan from the most selective index that is set; check the rest per customer.
  std::string prefix;
  if (!filter.tag.empty()) {
    prefix = IndexPrefix(Index::kTag, filter.tag);
  } else if (!filter.owner.empty()) {
    prefix = IndexPrefix(Index::kOwner, filter.owner);
  } else if (filter.stage != crm::v1::LIFECYCLE_STAGE_UNSPECIFIED) {
    prefix = IndexPrefix(Index::kStage, crm::v1::LifecycleStage_Name(filter.stage));
  } else if (filter.tier != crm::v1::VALUE_TIER_UNSPECIFIED) {
    prefix = IndexPrefix(Index::kTier, crm::v1::ValueTier_Name(filter.tier));
  } else {
    prefix = std::string(kCustomerPrefix);
  }
  const bool by_customer_key = prefix == kCustomerPrefix;
  const std::string start_after = after_id.empty() ? "" : absl::StrCat(prefix, after_id);

  Page page;
  absl::Status inner;
  absl::Status scanned = store_->ScanPrefix(
      prefix, start_after, 0, [&](absl::string_view key, absl::string_view value) {
        if (page.customers.size() == page_size) {
          page.more = true;
          return false;
        }
        Customer customer;
        if (by_customer_key) {
          if (!customer.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            inner = Corrupt(key);
            return false;
          }
        } else {
          auto loaded = Get(IdFromIndexKey(key, prefix));
          if (!loaded.ok()) {
            inner = loaded.status();
            return false;
          }
          if (!loaded->has_value()) return true;  // index ahead of a missing record: skip
          customer = std::move(**loaded);
        }
        if (Matches(filter, customer)) page.customers.push_back(std::move(customer));
        return true;
      });
  CRM_RETURN_IF_ERROR(scanned);
  CRM_RETURN_IF_ERROR(inner);
  return page;
}

absl::StatusOr<std::vector<Customer>> CustomerViews::Find(Index index, absl::string_view value,
                                                          size_t limit) const {
  const std::string prefix = IndexPrefix(index, value);
  std::vector<std::string> ids;
  CRM_RETURN_IF_ERROR(
      store_->ScanPrefix(prefix, "", limit, [&](absl::string_view key, absl::string_view) {
        ids.emplace_back(IdFromIndexKey(key, prefix));
        return true;
      }));
  std::vector<Customer> out;
  for (const auto& id : ids) {
    CRM_ASSIGN_OR_RETURN(auto customer, Get(id));
    if (customer.has_value()) out.push_back(std::move(*customer));
  }
  return out;
}

absl::StatusOr<CustomerViews::HistoryPage> CustomerViews::History(absl::string_view id,
                                                                  int64_t after_version,
                                                                  size_t page_size) const {
  const std::string prefix = HistoryPrefix(id);
  const std::string start_after = after_version > 0 ? HistoryKey(id, after_version) : "";
  HistoryPage page;
  absl::Status inner;
  CRM_RETURN_IF_ERROR(store_->ScanPrefix(
      prefix, start_after, page_size + 1, [&](absl::string_view key, absl::string_view value) {
        if (page.events.size() == page_size) {
          page.more = true;
          return false;
        }
        crm::events::v1::EventEnvelope event;
        if (!event.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          inner = Corrupt(key);
          return false;
        }
        page.events.push_back(std::move(event));
        return true;
      }));
  CRM_RETURN_IF_ERROR(inner);
  return page;
}

}  // namespace crm::readmodel::customer
