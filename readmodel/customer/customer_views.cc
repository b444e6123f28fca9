#include "readmodel/customer/customer_views.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "readmodel/customer/text_fold.h"

namespace crm::readmodel::customer {
namespace {

using crm::v1::Customer;

absl::Status Corrupt(absl::string_view key) {
  return absl::DataLossError(absl::StrCat("view entry cannot be decoded: ", key));
}

// How many entries a bounded count reads of each candidate index when choosing the one to scan.
constexpr size_t kProbeLimit = 256;

}  // namespace

bool CustomerViews::Matches(const Filter& f, const Customer& c) {
  if (!c.merged_into().empty()) return false;  // listed as its survivor
  if (c.has_archive_time() && !f.show_archived) return false;
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
  if (f.kind != crm::v1::CUSTOMER_KIND_UNSPECIFIED && c.kind() != f.kind) return false;
  if (!f.region.empty() && FoldText(c.region()) != f.region) return false;
  if (!f.industry.empty() && FoldText(c.industry()) != f.industry) return false;
  if (!f.name_prefix.empty() && !absl::StartsWith(FoldText(c.display_name()), f.name_prefix)) {
    return false;
  }
  return true;
}

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

absl::StatusOr<CustomerViews::SearchPage> CustomerViews::Search(
    const Filter& filter, absl::string_view after_cursor, size_t page_size, size_t max_scanned,
    const std::function<bool(const Customer&)>& keep) const {
  // Candidate indexes: one per structured filter that is set; the name prefix narrows each to a
  // range, and with no structured filter the "all" index is scanned over that range.
  std::vector<std::string> candidates;
  if (!filter.owner.empty()) candidates.push_back(SearchPrefix(SearchField::kOwner, filter.owner));
  if (!filter.tag.empty()) candidates.push_back(SearchPrefix(SearchField::kTag, filter.tag));
  if (!filter.region.empty()) {
    candidates.push_back(SearchPrefix(SearchField::kRegion, filter.region));
  }
  if (!filter.industry.empty()) {
    candidates.push_back(SearchPrefix(SearchField::kIndustry, filter.industry));
  }
  if (filter.stage != crm::v1::LIFECYCLE_STAGE_UNSPECIFIED) {
    candidates.push_back(
        SearchPrefix(SearchField::kStage, crm::v1::LifecycleStage_Name(filter.stage)));
  }
  if (filter.tier != crm::v1::VALUE_TIER_UNSPECIFIED) {
    candidates.push_back(SearchPrefix(SearchField::kTier, crm::v1::ValueTier_Name(filter.tier)));
  }
  if (filter.kind != crm::v1::CUSTOMER_KIND_UNSPECIFIED) {
    candidates.push_back(SearchPrefix(SearchField::kKind, crm::v1::CustomerKind_Name(filter.kind)));
  }
  if (candidates.empty()) candidates.push_back(SearchPrefix(SearchField::kAll, ""));

  // The smallest candidate, by a count bounded at kProbeLimit entries each (ties: the order
  // above, most selective kinds of field first). The count starts at the cursor, so it measures
  // what is left to read.
  std::string prefix = candidates.front();
  if (candidates.size() > 1) {
    size_t best = SIZE_MAX;
    for (const auto& candidate : candidates) {
      const std::string range = absl::StrCat(candidate, filter.name_prefix);
      const std::string start = after_cursor.empty() ? "" : absl::StrCat(candidate, after_cursor);
      size_t count = 0;
      CRM_RETURN_IF_ERROR(
          store_->ScanPrefix(range, start, kProbeLimit, [&](absl::string_view, absl::string_view) {
            ++count;
            return true;
          }));
      if (count < best) {
        best = count;
        prefix = candidate;
      }
      if (count == 0) break;
    }
  }

  const std::string range = absl::StrCat(prefix, filter.name_prefix);
  const std::string start_after = after_cursor.empty() ? "" : absl::StrCat(prefix, after_cursor);
  SearchPage page;
  page.cursor = std::string(after_cursor);
  size_t scanned = 0;
  absl::Status inner;
  CRM_RETURN_IF_ERROR(
      store_->ScanPrefix(range, start_after, 0, [&](absl::string_view key, absl::string_view) {
        if (page.customers.size() == page_size || scanned == max_scanned) {
          page.more = true;
          return false;
        }
        ++scanned;
        const absl::string_view cursor = IdFromIndexKey(key, prefix);
        page.cursor = std::string(cursor);
        const size_t sep = cursor.rfind('\0');
        if (sep == absl::string_view::npos) {
          inner = Corrupt(key);
          return false;
        }
        auto loaded = Get(cursor.substr(sep + 1));
        if (!loaded.ok()) {
          inner = loaded.status();
          return false;
        }
        if (!loaded->has_value()) return true;  // index ahead of a missing record: skip
        if (Matches(filter, **loaded) && keep(**loaded)) {
          page.customers.push_back(std::move(**loaded));
        }
        return true;
      }));
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
