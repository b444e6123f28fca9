#include "readmodel/org/org_views.h"

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "readmodel/org/org_view_keys.h"
#include "readmodel/org/work_queue.h"

namespace crm::readmodel::org {
namespace {

absl::Status Corrupt(absl::string_view key) {
  return absl::DataLossError(absl::StrCat("org view entry cannot be decoded: ", key));
}

template <typename T>
absl::StatusOr<std::optional<T>> Load(const kv::KvStore& store, const std::string& key) {
  CRM_ASSIGN_OR_RETURN(auto value, store.Get(key));
  if (!value.has_value()) return std::nullopt;
  T out;
  if (!out.ParseFromString(*value)) return Corrupt(key);
  return out;
}

// Records under `record_prefix` (id order), or those whose index entry under `index_prefix`
// exists when it is non-empty; each must pass `matches`. Strictly after `after_id`.
template <typename T>
absl::StatusOr<OrgViews::Page<T>> Scan(const kv::KvStore& store, absl::string_view record_prefix,
                                       const std::string& index_prefix, absl::string_view after_id,
                                       size_t page_size,
                                       const std::function<bool(const T&)>& matches) {
  const std::string prefix = index_prefix.empty() ? std::string(record_prefix) : index_prefix;
  const std::string start_after = after_id.empty() ? "" : absl::StrCat(prefix, after_id);
  OrgViews::Page<T> page;
  absl::Status inner;
  absl::Status scanned =
      store.ScanPrefix(prefix, start_after, 0, [&](absl::string_view key, absl::string_view value) {
        T item;
        if (index_prefix.empty()) {
          if (!item.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            inner = Corrupt(key);
            return false;
          }
        } else {
          const std::string record_key =
              absl::StrCat(record_prefix, key.substr(index_prefix.size()));
          auto loaded = Load<T>(store, record_key);
          if (!loaded.ok()) {
            inner = loaded.status();
            return false;
          }
          if (!loaded->has_value()) return true;  // index ahead of a missing record: skip
          item = std::move(**loaded);
        }
        if (!matches(item)) return true;
        if (page.items.size() == page_size) {
          page.more = true;
          return false;
        }
        page.items.push_back(std::move(item));
        return true;
      });
  CRM_RETURN_IF_ERROR(scanned);
  CRM_RETURN_IF_ERROR(inner);
  return page;
}

template <typename T>
absl::StatusOr<std::vector<T>> All(const kv::KvStore& store, absl::string_view prefix) {
  CRM_ASSIGN_OR_RETURN(OrgViews::Page<T> page,
                       Scan<T>(store, prefix, "", "", SIZE_MAX, [](const T&) { return true; }));
  return std::move(page.items);
}

// A removed department or team is kept for the fold's idempotency but read as absent.
template <typename T>
bool Present(const T& record) {
  return !record.has_delete_time();
}

template <typename T>
absl::StatusOr<std::optional<T>> LoadPresent(const kv::KvStore& store, const std::string& key) {
  CRM_ASSIGN_OR_RETURN(std::optional<T> found, Load<T>(store, key));
  if (found.has_value() && !Present(*found)) return std::nullopt;
  return found;
}

template <typename T>
absl::StatusOr<std::vector<T>> AllPresent(const kv::KvStore& store, absl::string_view prefix) {
  CRM_ASSIGN_OR_RETURN(OrgViews::Page<T> page,
                       Scan<T>(store, prefix, "", "", SIZE_MAX, &Present<T>));
  return std::move(page.items);
}

}  // namespace

absl::StatusOr<std::optional<crm::v1::Department>> OrgViews::GetDepartment(
    absl::string_view id) const {
  return LoadPresent<crm::v1::Department>(*store_, DepartmentKey(id));
}

absl::StatusOr<std::optional<crm::v1::Team>> OrgViews::GetTeam(absl::string_view id) const {
  return LoadPresent<crm::v1::Team>(*store_, TeamKey(id));
}

absl::StatusOr<std::optional<crm::v1::Staff>> OrgViews::GetStaff(absl::string_view id) const {
  return Load<crm::v1::Staff>(*store_, StaffKey(id));
}

absl::StatusOr<std::optional<crm::v1::ImprovementAction>> OrgViews::GetImprovementAction(
    absl::string_view id) const {
  return Load<crm::v1::ImprovementAction>(*store_, ImprovementActionKey(id));
}

absl::StatusOr<OrgViews::Page<crm::v1::ImprovementAction>> OrgViews::ListImprovementActions(
    const ActionFilter& filter, absl::string_view after_id, size_t page_size) const {
  std::string index;
  if (!filter.owner.empty()) {
    index = IndexPrefix(Index::kActionOwner, filter.owner);
  } else if (filter.root_cause != crm::v1::ROOT_CAUSE_UNSPECIFIED) {
    index = IndexPrefix(Index::kActionCause, crm::v1::RootCause_Name(filter.root_cause));
  } else if (filter.state != crm::v1::IMPROVEMENT_ACTION_STATE_UNSPECIFIED) {
    index = IndexPrefix(Index::kActionState, crm::v1::ImprovementActionState_Name(filter.state));
  }
  return Scan<crm::v1::ImprovementAction>(
      *store_, kImprovementActionPrefix, index, after_id, page_size,
      [&](const crm::v1::ImprovementAction& a) {
        if (!filter.owner.empty() && a.owner() != filter.owner) return false;
        if (filter.root_cause != crm::v1::ROOT_CAUSE_UNSPECIFIED &&
            a.root_cause() != filter.root_cause) {
          return false;
        }
        return filter.state == crm::v1::IMPROVEMENT_ACTION_STATE_UNSPECIFIED ||
               a.state() == filter.state;
      });
}

absl::StatusOr<OrgViews::Page<crm::v1::Department>> OrgViews::ListDepartments(
    crm::v1::DepartmentFunction function, absl::string_view after_id, size_t page_size) const {
  std::string index;
  if (function != crm::v1::DEPARTMENT_FUNCTION_UNSPECIFIED) {
    index = IndexPrefix(Index::kDepartmentFunction, crm::v1::DepartmentFunction_Name(function));
  }
  return Scan<crm::v1::Department>(*store_, kDepartmentPrefix, index, after_id, page_size,
                                   &Present<crm::v1::Department>);
}

absl::StatusOr<OrgViews::Page<crm::v1::Team>> OrgViews::ListTeams(absl::string_view department,
                                                                  absl::string_view after_id,
                                                                  size_t page_size) const {
  std::string index;
  if (!department.empty()) index = IndexPrefix(Index::kTeamDepartment, department);
  return Scan<crm::v1::Team>(*store_, kTeamPrefix, index, after_id, page_size,
                             &Present<crm::v1::Team>);
}

absl::StatusOr<OrgViews::Page<crm::v1::Staff>> OrgViews::ListStaff(const StaffFilter& filter,
                                                                   absl::string_view after_id,
                                                                   size_t page_size) const {
  // Drive the scan from the most selective index that is set; check the rest per record.
  std::string index;
  if (!filter.manager.empty()) {
    index = IndexPrefix(Index::kStaffManager, filter.manager);
  } else if (!filter.team.empty()) {
    index = IndexPrefix(Index::kStaffTeam, filter.team);
  } else if (!filter.department.empty()) {
    index = IndexPrefix(Index::kStaffDepartment, filter.department);
  } else if (filter.role != crm::v1::STAFF_ROLE_UNSPECIFIED) {
    index = IndexPrefix(Index::kStaffRole, crm::v1::StaffRole_Name(filter.role));
  } else if (filter.active.has_value()) {
    index = IndexPrefix(Index::kStaffActive, *filter.active ? "1" : "0");
  }
  return Scan<crm::v1::Staff>(
      *store_, kStaffPrefix, index, after_id, page_size, [&](const crm::v1::Staff& s) {
        if (!filter.department.empty() && s.department() != filter.department) return false;
        if (!filter.team.empty() && s.team() != filter.team) return false;
        if (filter.role != crm::v1::STAFF_ROLE_UNSPECIFIED && s.role() != filter.role) {
          return false;
        }
        if (filter.active.has_value() && s.active() != *filter.active) return false;
        if (!filter.manager.empty() && s.manager() != filter.manager) return false;
        return true;
      });
}

absl::StatusOr<std::vector<crm::v1::Department>> OrgViews::AllDepartments() const {
  return AllPresent<crm::v1::Department>(*store_, kDepartmentPrefix);
}
absl::StatusOr<std::vector<crm::v1::Team>> OrgViews::AllTeams() const {
  return AllPresent<crm::v1::Team>(*store_, kTeamPrefix);
}
absl::StatusOr<std::vector<crm::v1::Staff>> OrgViews::AllStaff() const {
  return All<crm::v1::Staff>(*store_, kStaffPrefix);
}

absl::StatusOr<std::map<std::string, crm::v1::Workload>> OrgViews::Workloads(absl::Time now) const {
  std::map<std::string, crm::v1::Workload> out;
  absl::Status inner;
  CRM_RETURN_IF_ERROR(store_->ScanPrefix(
      kWorkloadPrefix, "", 0, [&](absl::string_view key, absl::string_view value) {
        crm::v1::Workload w;
        if (!w.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          inner = Corrupt(key);
          return false;
        }
        crm::v1::Workload& entry = out[std::string(key.substr(kWorkloadPrefix.size()))];
        entry.set_customers_owned(w.customers_owned());
        entry.set_open_complaints(w.open_complaints());
        return true;
      }));
  CRM_RETURN_IF_ERROR(inner);
  // Only entries overdue by `now`: [og/due/, og/due/<now>).
  CRM_RETURN_IF_ERROR(
      store_->Scan(kDuePrefix, absl::StrCat(kDuePrefix, SortableTime(now)), 0,
                   [&](absl::string_view key, absl::string_view value) {
                     crm::v1::Workload& entry = out[std::string(value)];
                     if (absl::StrContains(AggregateFromDueKey(key), "/complaints/")) {
                       entry.set_overdue_complaints(entry.overdue_complaints() + 1);
                     } else {
                       entry.set_overdue_follow_ups(entry.overdue_follow_ups() + 1);
                     }
                     entry.set_overdue_items(entry.overdue_items() + 1);
                     return true;
                   }));
  return out;
}

namespace {

// The ids of the index entries under `prefix` (the part after it), in order.
absl::StatusOr<std::vector<std::string>> IdsUnder(const kv::KvStore& store,
                                                  const std::string& prefix) {
  std::vector<std::string> ids;
  CRM_RETURN_IF_ERROR(
      store.ScanPrefix(prefix, "", 0, [&](absl::string_view key, absl::string_view) {
        ids.emplace_back(key.substr(prefix.size()));
        return true;
      }));
  return ids;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> OrgViews::TeamMembers(absl::string_view team) const {
  return IdsUnder(*store_, IndexPrefix(Index::kStaffTeam, team));
}

absl::StatusOr<std::vector<std::string>> OrgViews::DepartmentStaff(
    absl::string_view department) const {
  return IdsUnder(*store_, IndexPrefix(Index::kStaffDepartment, department));
}

absl::StatusOr<OrgViews::WorkQueuePage> OrgViews::WorkQueue(
    const std::vector<std::string>& staff_ids, absl::string_view after, size_t page_size) const {
  // Each staff member's first page_size + 1 positions after `after`: the first page_size + 1
  // distinct positions of the union are among them (a position's predecessors in its own range
  // are distinct positions of the union too). The same position under two staff members is the
  // same item (its key suffix is the item's slot), so the set merges them.
  std::set<std::string> positions;
  for (const std::string& staff_id : staff_ids) {
    const std::string prefix = QueuePrefix(staff_id);
    const std::string start =
        after.empty() ? prefix : absl::StrCat(prefix, after, absl::string_view("\0", 1));
    const std::string end = absl::StrCat(kQueuePrefix, staff_id, absl::string_view("\x01", 1));
    CRM_RETURN_IF_ERROR(
        store_->Scan(start, end, page_size + 1, [&](absl::string_view key, absl::string_view) {
          positions.emplace(key.substr(prefix.size()));
          return true;
        }));
  }
  WorkQueuePage page;
  for (const std::string& position : positions) {
    if (page.items.size() == page_size) {
      page.more = true;
      break;
    }
    std::optional<QueueSlot> slot = ParseQueuePosition(position);
    if (!slot.has_value()) return Corrupt(position);
    crm::v1::WorkItem item;
    item.set_resource(slot->aggregate);
    item.set_priority(slot->priority);
    if (slot->due.has_value()) *item.mutable_due_time() = base::ToTimestamp(*slot->due);
    if (absl::StrContains(slot->aggregate, "/complaints/")) {
      item.set_kind(crm::v1::WORK_ITEM_COMPLAINT);
      CRM_ASSIGN_OR_RETURN(std::optional<crm::v1::Complaint> complaint,
                           Load<crm::v1::Complaint>(*store_, ComplaintTrackKey(slot->aggregate)));
      if (!complaint.has_value()) return Corrupt(ComplaintTrackKey(slot->aggregate));
      *item.mutable_complaint() = *std::move(complaint);
    } else {
      item.set_kind(crm::v1::WORK_ITEM_FOLLOW_UP);
      CRM_ASSIGN_OR_RETURN(
          std::optional<crm::v1::Interaction> interaction,
          Load<crm::v1::Interaction>(*store_, InteractionTrackKey(slot->aggregate)));
      if (!interaction.has_value()) return Corrupt(InteractionTrackKey(slot->aggregate));
      *item.mutable_interaction() = *std::move(interaction);
    }
    page.items.push_back(std::move(item));
    page.last_position = position;
  }
  return page;
}

}  // namespace crm::readmodel::org
