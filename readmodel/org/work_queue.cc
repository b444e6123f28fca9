#include "readmodel/org/work_queue.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/time_util.h"
#include "readmodel/org/org_view_keys.h"

namespace crm::readmodel::org {
namespace {

constexpr absl::string_view kSep("\0", 1);
// Sorts after every SortableTime (digits and '.').
constexpr absl::string_view kNoDue = "~";

}  // namespace

int Priority(crm::v1::ComplaintSeverity severity, crm::v1::ValueTier tier) {
  int base = 4;
  if (severity == crm::v1::SEVERE) {
    base = 2;
  } else if (severity == crm::v1::GENERAL) {
    base = 3;
  }
  return tier == crm::v1::HIGH_VALUE ? base - 1 : base;
}

std::string QueuePosition(const QueueSlot& slot) {
  return absl::StrCat(slot.priority, kSep,
                      slot.due.has_value() ? SortableTime(*slot.due) : std::string(kNoDue), kSep,
                      slot.aggregate);
}

std::optional<QueueSlot> ParseQueuePosition(absl::string_view position) {
  std::vector<absl::string_view> parts = absl::StrSplit(position, absl::MaxSplits(kSep, 2));
  if (parts.size() != 3 || parts[0].size() != 1 || parts[0][0] < '1' || parts[0][0] > '4' ||
      parts[2].empty()) {
    return std::nullopt;
  }
  QueueSlot slot;
  slot.priority = parts[0][0] - '0';
  slot.aggregate = std::string(parts[2]);
  if (parts[1] != kNoDue) {
    // Only the form SortableTime writes: 12 digits, '.', 9 digits.
    if (parts[1].size() != 22 || parts[1][12] != '.') return std::nullopt;
    for (size_t i = 0; i < parts[1].size(); ++i) {
      if (i != 12 && (parts[1][i] < '0' || parts[1][i] > '9')) return std::nullopt;
    }
    const int64_t seconds = std::strtoll(std::string(parts[1].substr(0, 12)).c_str(), nullptr, 10);
    const int64_t nanos = std::strtoll(std::string(parts[1].substr(13)).c_str(), nullptr, 10);
    // SortableTime counts from 0001-01-01: 62135596800 seconds before the Unix epoch.
    slot.due = absl::FromUnixSeconds(seconds - 62'135'596'800) + absl::Nanoseconds(nanos);
  }
  // A position that does not round-trip (a time outside the Timestamp range) is not one.
  if (QueuePosition(slot) != position) return std::nullopt;
  return slot;
}

std::string QueuePrefix(absl::string_view staff_id) {
  return absl::StrCat(kQueuePrefix, staff_id, kSep);
}

std::string QueueKey(absl::string_view staff_id, const QueueSlot& slot) {
  return absl::StrCat(QueuePrefix(staff_id), QueuePosition(slot));
}

QueueSlot SlotOf(const crm::v1::Complaint& c) {
  QueueSlot slot;
  slot.priority = Priority(c.severity(), c.customer_tier());
  slot.aggregate = c.name();
  if (c.resolution_deadline().has_met_time()) return slot;  // resolved: nothing due
  // A reopening starts a new round: only its resolution deadline counts.
  const auto& response = c.response_deadline();
  if (c.reopen_count() == 0 && response.has_due_time() && !response.has_met_time()) {
    slot.due = base::ToTime(response.due_time());
  }
  const auto& resolution = c.resolution_deadline();
  if (resolution.has_due_time()) {
    const absl::Time due = base::ToTime(resolution.due_time());
    if (!slot.due.has_value() || due < *slot.due) slot.due = due;
  }
  return slot;
}

QueueSlot SlotOf(const crm::v1::Interaction& i) {
  QueueSlot slot;
  slot.priority = Priority(crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED, i.customer_tier());
  slot.aggregate = i.name();
  if (i.has_follow_up_due_time()) slot.due = base::ToTime(i.follow_up_due_time());
  return slot;
}

std::set<std::string> QueueKeysOf(const crm::v1::Complaint& c) {
  std::set<std::string> out;
  if (c.version() == 0 || c.status() == crm::v1::CLOSED) return out;
  const QueueSlot slot = SlotOf(c);
  for (const std::string& holder : {c.assignee().staff_id(), c.escalated_to().staff_id()}) {
    if (!holder.empty()) out.insert(QueueKey(holder, slot));
  }
  return out;
}

std::set<std::string> QueueKeysOf(const crm::v1::Interaction& i) {
  std::set<std::string> out;
  if (i.version() == 0 || !i.has_follow_up_due_time() || i.has_follow_up_complete_time() ||
      i.staff_id().empty()) {
    return out;
  }
  out.insert(QueueKey(i.staff_id(), SlotOf(i)));
  return out;
}

}  // namespace crm::readmodel::org
