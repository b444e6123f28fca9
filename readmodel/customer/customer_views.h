// CustomerViews: reads the customer views that projections/customer writes (layout in
// view_keys.h). Used by the query service.
//
// Reads see whatever the projection has applied so far; callers wanting read-your-writes first
// wait for a consistency token (fold::FoldRunner::WaitFor).
// Thread-safe: const methods over a thread-safe KvStore.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/customer.pb.h"
#include "readmodel/customer/view_keys.h"

namespace crm::readmodel::customer {

class CustomerViews {
 public:
  // Does not take ownership.
  explicit CustomerViews(const kv::KvStore* store) : store_(store) {}

  // nullopt if the customer is not in the views.
  absl::StatusOr<std::optional<crm::v1::Customer>> Get(absl::string_view id) const;

  // What ListCustomers and SearchCustomers filter by; unset fields (empty, *_UNSPECIFIED) match
  // everything. Text fields hold what the index stores: name_prefix, region and industry folded
  // (FoldText), owner a staff id, tag normalized.
  struct Filter {
    crm::v1::LifecycleStage stage = crm::v1::LIFECYCLE_STAGE_UNSPECIFIED;
    std::string owner;
    crm::v1::ValueTier tier = crm::v1::VALUE_TIER_UNSPECIFIED;
    std::string tag;
    std::string name_prefix;
    std::string region;
    std::string industry;
    crm::v1::CustomerKind kind = crm::v1::CUSTOMER_KIND_UNSPECIFIED;
    // Archived customers (archive_time set) pass only if set.
    bool show_archived = false;
  };
  // Whether `customer` passes every set field of `filter`; never for a merged customer.
  static bool Matches(const Filter& filter, const crm::v1::Customer& customer);
  struct Page {
    std::vector<crm::v1::Customer> customers;
    bool more = false;  // true if customers follow the last one returned
  };
  // Customers matching every set filter, in id order, strictly after `after_id`.
  absl::StatusOr<Page> List(const Filter& filter, absl::string_view after_id,
                            size_t page_size) const;

  struct SearchPage {
    std::vector<crm::v1::Customer> customers;
    // Where the next page starts (a SearchCursor): the last entry read, kept or not.
    std::string cursor;
    bool more = false;  // true if entries follow `cursor`
  };
  // Customers matching every set filter and kept by `keep` (the caller's visibility), in
  // (folded display name, id) order, strictly after `after_cursor` (a SearchCursor; empty: from
  // the start). The scan runs over one search index, the smallest of those the filter names
  // (a bounded count of each decides), restricted to the name prefix; the other filters are
  // checked on the record. It stops after `page_size` customers or after reading `max_scanned`
  // index entries, whichever comes first, so a page may hold fewer than page_size customers (even
  // none) and still have `more`.
  absl::StatusOr<SearchPage> Search(
      const Filter& filter, absl::string_view after_cursor, size_t page_size, size_t max_scanned,
      const std::function<bool(const crm::v1::Customer&)>& keep) const;

  // Customers whose index entry equals `value` exactly (e.g. an e-mail), at most `limit`.
  absl::StatusOr<std::vector<crm::v1::Customer>> Find(Index index, absl::string_view value,
                                                      size_t limit) const;

  struct HistoryPage {
    std::vector<crm::events::v1::EventEnvelope> events;
    bool more = false;
  };
  // Events of the customer with aggregate_version > after_version, oldest first.
  absl::StatusOr<HistoryPage> History(absl::string_view id, int64_t after_version,
                                      size_t page_size) const;

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::customer
