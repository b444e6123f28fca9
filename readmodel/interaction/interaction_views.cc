#include "readmodel/interaction/interaction_views.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace crm::readmodel::interaction {
namespace {

using crm::v1::Interaction;

absl::Status Corrupt(absl::string_view key) {
  return absl::DataLossError(absl::StrCat("view entry cannot be decoded: ", key));
}

// The smallest key greater than every key starting with `prefix` (which ends in '\0').
std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

// The first key to read: the prefix, or the smallest key after prefix + cursor.
std::string StartKey(absl::string_view prefix, absl::string_view cursor) {
  if (cursor.empty()) return std::string(prefix);
  return absl::StrCat(prefix, cursor, absl::string_view("\0", 1));
}

// Scans keys in [start, end) collecting up to `page_size` accepted entries; `accept` returns
// whether the entry counts (false to skip it) or an error. Returns the cursor of the last
// collected entry if more keys follow it in the range, else "".
absl::StatusOr<std::string> ScanPage(
    const kv::KvStore& store, absl::string_view prefix, absl::string_view start,
    absl::string_view end, size_t page_size,
    const std::function<absl::StatusOr<bool>(absl::string_view key, absl::string_view value)>&
        accept) {
  size_t taken = 0;
  std::string last_key;
  bool more = false;
  absl::Status inner;
  CRM_RETURN_IF_ERROR(
      store.Scan(start, end, 0, [&](absl::string_view key, absl::string_view value) {
        if (taken == page_size) {
          more = true;
          return false;
        }
        absl::StatusOr<bool> accepted = accept(key, value);
        if (!accepted.ok()) {
          inner = accepted.status();
          return false;
        }
        if (*accepted) {
          ++taken;
          last_key = std::string(key);
        }
        return true;
      }));
  CRM_RETURN_IF_ERROR(inner);
  if (!more || last_key.empty()) return std::string();
  return last_key.substr(prefix.size());
}

}  // namespace

absl::StatusOr<std::optional<Interaction>> InteractionViews::Get(absl::string_view name) const {
  const std::string key = InteractionKey(name);
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(key));
  if (!value.has_value()) return std::nullopt;
  Interaction interaction;
  if (!interaction.ParseFromString(*value)) return Corrupt(key);
  return interaction;
}

absl::StatusOr<InteractionViews::InteractionPage> InteractionViews::ListForCustomer(
    absl::string_view customer_id, crm::v1::Channel channel, absl::string_view cursor,
    size_t page_size) const {
  const std::string prefix = CustomerInteractionsPrefix(customer_id);
  const std::string name_prefix = absl::StrCat("customers/", customer_id, "/interactions/");
  InteractionPage page;
  CRM_ASSIGN_OR_RETURN(
      page.next_cursor,
      ScanPage(*store_, prefix, StartKey(prefix, cursor), PrefixEnd(prefix), page_size,
               [&](absl::string_view key, absl::string_view) -> absl::StatusOr<bool> {
                 CRM_ASSIGN_OR_RETURN(auto interaction,
                                      Get(absl::StrCat(name_prefix, LastPart(key))));
                 if (!interaction.has_value()) return false;  // index ahead of the record
                 if (channel != crm::v1::CHANNEL_UNSPECIFIED && interaction->channel() != channel) {
                   return false;
                 }
                 page.interactions.push_back(std::move(*interaction));
                 return true;
               }));
  return page;
}

absl::StatusOr<InteractionViews::TimelinePage> InteractionViews::Timeline(
    absl::string_view customer_id, const std::set<crm::v1::TimelineEntryKind>& kinds,
    absl::string_view cursor, size_t page_size) const {
  const std::string prefix = TimelinePrefix(customer_id);
  TimelinePage page;
  CRM_ASSIGN_OR_RETURN(
      page.next_cursor,
      ScanPage(*store_, prefix, StartKey(prefix, cursor), PrefixEnd(prefix), page_size,
               [&](absl::string_view key, absl::string_view value) -> absl::StatusOr<bool> {
                 crm::v1::TimelineEntry entry;
                 if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                   return Corrupt(key);
                 }
                 if (!kinds.empty() && kinds.count(entry.kind()) == 0) return false;
                 page.entries.push_back(std::move(entry));
                 return true;
               }));
  return page;
}

absl::StatusOr<InteractionViews::InteractionPage> InteractionViews::FollowUps(
    absl::string_view staff_id, const std::optional<google::protobuf::Timestamp>& due_before,
    absl::string_view cursor, size_t page_size) const {
  const std::string prefix = FollowUpPrefix(staff_id);
  // Keys due at or after the bound sort at or after prefix + its time.
  const std::string end =
      due_before.has_value() ? absl::StrCat(prefix, AscendingTime(*due_before)) : PrefixEnd(prefix);
  InteractionPage page;
  CRM_ASSIGN_OR_RETURN(
      page.next_cursor,
      ScanPage(*store_, prefix, StartKey(prefix, cursor), end, page_size,
               [&](absl::string_view key, absl::string_view) -> absl::StatusOr<bool> {
                 CRM_ASSIGN_OR_RETURN(auto interaction, Get(LastPart(key)));
                 if (!interaction.has_value()) return false;
                 page.interactions.push_back(std::move(*interaction));
                 return true;
               }));
  return page;
}

}  // namespace crm::readmodel::interaction
