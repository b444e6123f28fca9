// OrgViews: reads the org views that projections/org writes (layout in org_view_keys.h). Used by
// the org query service.
//
// Reads see whatever the projection has applied so far; callers wanting read-your-writes first
// wait for a consistency token (fold::FoldRunner::WaitFor).
// Thread-safe: const methods over a thread-safe KvStore.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/kv/kv_store.h"
#include "crm/v1/improvement.pb.h"
#include "crm/v1/org.pb.h"
#include "crm/v1/org_service.pb.h"

namespace crm::readmodel::org {

class OrgViews {
 public:
  // Does not take ownership.
  explicit OrgViews(const kv::KvStore* store) : store_(store) {}

  // nullopt if not in the views (a removed department or team is not: it is in no list either).
  // DATA_LOSS for an undecodable entry.
  absl::StatusOr<std::optional<crm::v1::Department>> GetDepartment(absl::string_view id) const;
  absl::StatusOr<std::optional<crm::v1::Team>> GetTeam(absl::string_view id) const;
  absl::StatusOr<std::optional<crm::v1::Staff>> GetStaff(absl::string_view id) const;
  absl::StatusOr<std::optional<crm::v1::ImprovementAction>> GetImprovementAction(
      absl::string_view id) const;

  template <typename T>
  struct Page {
    std::vector<T> items;
    bool more = false;  // true if items follow the last one returned
  };

  // Departments (with `function` unless UNSPECIFIED) in id order, strictly after `after_id`.
  absl::StatusOr<Page<crm::v1::Department>> ListDepartments(crm::v1::DepartmentFunction function,
                                                            absl::string_view after_id,
                                                            size_t page_size) const;
  // Teams (of `department`, a resource name, unless empty) in id order.
  absl::StatusOr<Page<crm::v1::Team>> ListTeams(absl::string_view department,
                                                absl::string_view after_id, size_t page_size) const;

  struct StaffFilter {
    std::string department;  // resource name
    std::string team;        // resource name
    crm::v1::StaffRole role = crm::v1::STAFF_ROLE_UNSPECIFIED;
    std::optional<bool> active;
    std::string manager;  // staff id
  };
  // Staff matching every set filter, in id order.
  absl::StatusOr<Page<crm::v1::Staff>> ListStaff(const StaffFilter& filter,
                                                 absl::string_view after_id,
                                                 size_t page_size) const;

  struct ActionFilter {
    crm::v1::ImprovementActionState state = crm::v1::IMPROVEMENT_ACTION_STATE_UNSPECIFIED;
    crm::v1::RootCause root_cause = crm::v1::ROOT_CAUSE_UNSPECIFIED;
    std::string owner;  // staff id
  };
  // Improvement actions matching every set filter, in id order.
  absl::StatusOr<Page<crm::v1::ImprovementAction>> ListImprovementActions(
      const ActionFilter& filter, absl::string_view after_id, size_t page_size) const;

  // Every department, team and staff member, in id order (for the org chart).
  absl::StatusOr<std::vector<crm::v1::Department>> AllDepartments() const;
  absl::StatusOr<std::vector<crm::v1::Team>> AllTeams() const;
  absl::StatusOr<std::vector<crm::v1::Staff>> AllStaff() const;

  // Workload per staff id ("" = complaints without an assignee) as of `now`: customers_owned and
  // open_complaints from the counters, overdue_complaints / overdue_follow_ups from the due index
  // entries before `now` (strictly), overdue_items their sum. Staff with no work are absent.
  // Reads the counters and only the overdue part of the due index.
  absl::StatusOr<std::map<std::string, crm::v1::Workload>> Workloads(absl::Time now) const;

  // The staff ids of a team's members now ("teams/{id}"; active or not), or of a department's
  // staff ("departments/{id}"), in id order.
  absl::StatusOr<std::vector<std::string>> TeamMembers(absl::string_view team) const;
  absl::StatusOr<std::vector<std::string>> DepartmentStaff(absl::string_view department) const;

  struct WorkQueuePage {
    // kind, resource, priority, due_time and the item itself (overdue is the caller's: it
    // depends on the time of the query).
    std::vector<crm::v1::WorkItem> items;
    // The position (work_queue.h QueuePosition) of the last item returned.
    std::string last_position;
    bool more = false;  // true if items follow the last one returned
  };
  // The merged work queue of `staff_ids` (readmodel/org/work_queue.h): items in queue order
  // (priority, due, resource) strictly after position `after` (empty: from the start), each
  // once even when two of the staff hold it, at most `page_size`. Reads at most page_size + 1
  // index entries per staff member, then the items' tracked states.
  absl::StatusOr<WorkQueuePage> WorkQueue(const std::vector<std::string>& staff_ids,
                                          absl::string_view after, size_t page_size) const;

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::org
