// The org chart (客户管理结构图) as data, and its renderings as Graphviz DOT and Mermaid text.
//
// BuildOrgChart arranges a snapshot of the org views into the tree of crm.v1.OrgChart:
// departments > teams > staff (members without a team directly under their department), the
// reporting lines, and the live workload of every node, summed up the tree. People are placed
// where they are now (so moving someone moves their work). Deactivated staff are shown when asked
// for, and always while they still hold work. Work of staff ids that are not shown (unknown ids,
// or outside the department asked for) and unassigned complaints is `unattributed` (whole
// organisation only). Everything is in id order, so the output is deterministic.
//
// Thread-safe: pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/v1/org.pb.h"
#include "crm/v1/org_service.pb.h"

namespace crm::services::org {

struct OrgSnapshot {
  // Each in id order.
  std::vector<crm::v1::Department> departments;
  std::vector<crm::v1::Team> teams;
  std::vector<crm::v1::Staff> staff;
  // By staff id; "" = complaints without an assignee.
  std::map<std::string, crm::v1::Workload> workloads;
};

// `department`: a resource name to chart only that department, or "" for all. Leaves as_of, dot
// and mermaid unset.
crm::v1::OrgChart BuildOrgChart(const OrgSnapshot& snapshot, absl::string_view department,
                                bool include_inactive);

// Graphviz DOT of a chart's tree: a cluster per department and per team, a box per person
// (dashed if deactivated) with role, level and workload, and dashed edges person -> manager for
// the reporting lines between people shown.
std::string RenderDot(const crm::v1::OrgChart& chart);

// Mermaid flowchart of the same: a subgraph per department and team, a node per person, and
// dotted arrows person -.-> manager.
std::string RenderMermaid(const crm::v1::OrgChart& chart);

}  // namespace crm::services::org
