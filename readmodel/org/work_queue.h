// Work queues (proto/crm/v1/org_service.proto ListWorkItems; proto/crm/v1/README.md "Work
// queues"): which staff member's queue an item is in, at what priority and due time, and the
// keys that index it in the org views, so that one staff member's queue is one range scan in
// (priority, due time, resource) order:
//
//   og/q/<staff_id>\0<priority, 1 digit>\0<due: SortableTime, or "~" if none>\0<aggregate> -> ""
//
// The priority rule is stated once, in WorkItem.priority (org_service.proto); Priority() below
// is its code. projections/org writes the entries (from the complaint and interaction states it
// tracks) in the same batch as the rest of the org views; OrgViews::WorkQueue reads them.
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/complaint.pb.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/interaction.pb.h"

namespace crm::readmodel::org {

inline constexpr absl::string_view kQueuePrefix = "og/q/";

// 1 (most urgent) to 4: SEVERE 2, GENERAL 3, MINOR 4; one less for a HIGH_VALUE tier. A
// follow-up counts as MINOR (severity UNSPECIFIED is read as MINOR too).
int Priority(crm::v1::ComplaintSeverity severity, crm::v1::ValueTier tier);

// Where an item sits in a queue: its priority, due time (none sorts last) and resource name.
struct QueueSlot {
  int priority = 4;
  std::optional<absl::Time> due;
  std::string aggregate;
};

// The key suffix after the staff member's prefix: "<priority>\0<due or ~>\0<aggregate>". Byte
// order of positions is queue order.
std::string QueuePosition(const QueueSlot& slot);
// The slot of a position; nullopt if `position` is not one.
std::optional<QueueSlot> ParseQueuePosition(absl::string_view position);

// "og/q/<staff_id>\0": every entry of one staff member's queue.
std::string QueuePrefix(absl::string_view staff_id);
std::string QueueKey(absl::string_view staff_id, const QueueSlot& slot);

// The queue keys of a complaint as the domain's Apply leaves it: none if it does not exist or is
// CLOSED; else one per holder (assignee, escalated_to; an unassigned, unescalated complaint is
// in nobody's queue). Due: the earliest deadline not met (the response deadline only before any
// reopening), none once resolved.
std::set<std::string> QueueKeysOf(const crm::v1::Complaint& complaint);
// The queue keys of an interaction: one, in its staff member's queue, while its follow-up is
// due and not complete; none otherwise.
std::set<std::string> QueueKeysOf(const crm::v1::Interaction& interaction);

// The due time and priority of a complaint or a follow-up as the queue has it (QueueKeysOf).
QueueSlot SlotOf(const crm::v1::Complaint& complaint);
QueueSlot SlotOf(const crm::v1::Interaction& interaction);

}  // namespace crm::readmodel::org
