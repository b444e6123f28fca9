#include "services/org/org_chart.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "domain/org/org_names.h"

namespace crm::services::org {
namespace {

using crm::v1::OrgChart;
using crm::v1::Workload;

void AddTo(Workload& sum, const Workload& w) {
  sum.set_customers_owned(sum.customers_owned() + w.customers_owned());
  sum.set_open_complaints(sum.open_complaints() + w.open_complaints());
  sum.set_overdue_items(sum.overdue_items() + w.overdue_items());
  sum.set_overdue_complaints(sum.overdue_complaints() + w.overdue_complaints());
  sum.set_overdue_follow_ups(sum.overdue_follow_ups() + w.overdue_follow_ups());
}

bool HasWork(const Workload& w) {
  return w.customers_owned() != 0 || w.open_complaints() != 0 || w.overdue_items() != 0;
}

std::string StaffId(const crm::v1::Staff& s) {
  return std::string(domain::org::IdOf(s.name(), domain::org::kStaffPrefix));
}

std::string WorkText(const Workload& w) {
  return absl::StrCat("customers ", w.customers_owned(), ", open complaints ", w.open_complaints(),
                      ", overdue ", w.overdue_items());
}

std::string StaffLines(const crm::v1::Staff& s) {
  return absl::StrCat(crm::v1::StaffRole_Name(s.role()), ", ", crm::v1::StaffLevel_Name(s.level()),
                      s.active() ? "" : ", deactivated");
}

// --- DOT. ---

// A DOT double-quoted string (the caller adds the quotes); "\n" in `text` stays a line break.
std::string DotEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      continue;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void DotStaff(const crm::v1::StaffNode& node, const std::string& indent, std::string& out) {
  const crm::v1::Staff& s = node.staff();
  absl::StrAppend(&out, indent, "\"", DotEscape(s.name()), "\" [label=\"",
                  DotEscape(absl::StrCat(s.display_name(), " (", StaffId(s), ")\n", StaffLines(s),
                                         "\n", WorkText(node.workload()))),
                  "\"", s.active() ? "" : ", style=dashed", "];\n");
}

// --- Mermaid. ---

// A Mermaid node id: kind letter + id with '-' as '_' (ids are [a-z0-9-], so this is one-to-one).
std::string MermaidId(absl::string_view kind, absl::string_view name, absl::string_view prefix) {
  return absl::StrCat(kind, "_",
                      absl::StrReplaceAll(domain::org::IdOf(name, prefix), {{"-", "_"}}));
}

// Text inside a Mermaid "..." label: quotes and angle brackets as entities, line breaks as <br/>.
std::string MermaidEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '<':
        out += "#lt;";
        break;
      case '>':
        out += "#gt;";
        break;
      case '#':
        out += "#35;";
        break;
      case '\n':
        out += "<br/>";
        break;
      case '\r':
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void MermaidStaff(const crm::v1::StaffNode& node, const std::string& indent, std::string& out) {
  const crm::v1::Staff& s = node.staff();
  absl::StrAppend(&out, indent, MermaidId("s", s.name(), domain::org::kStaffPrefix), "[\"",
                  MermaidEscape(absl::StrCat(s.display_name(), " (", StaffId(s), ")\n",
                                             StaffLines(s), "\n", WorkText(node.workload()))),
                  "\"]\n");
}

}  // namespace

OrgChart BuildOrgChart(const OrgSnapshot& snapshot, absl::string_view department,
                       bool include_inactive) {
  auto workload_of = [&](const std::string& staff_id) {
    auto it = snapshot.workloads.find(staff_id);
    return it == snapshot.workloads.end() ? Workload() : it->second;
  };

  // Who is shown: in scope, and active or asked for or holding work.
  std::set<std::string> department_names;
  for (const auto& d : snapshot.departments) {
    if (department.empty() || d.name() == department) department_names.insert(d.name());
  }
  std::map<std::string, const crm::v1::Team*> teams;  // by name
  for (const auto& t : snapshot.teams) teams[t.name()] = &t;
  std::vector<const crm::v1::Staff*> shown;
  std::set<std::string> shown_ids;
  for (const auto& s : snapshot.staff) {
    if (!department_names.count(s.department())) continue;
    if (!s.active() && !include_inactive && !HasWork(workload_of(StaffId(s)))) continue;
    shown.push_back(&s);
    shown_ids.insert(StaffId(s));
  }

  OrgChart chart;
  std::map<std::string, std::vector<std::string>> reports;  // manager -> shown direct reports
  for (const auto* s : shown) {
    if (s->manager().empty()) continue;
    reports[s->manager()].push_back(StaffId(*s));
    auto* line = chart.add_reporting_lines();
    line->set_staff_id(StaffId(*s));
    line->set_manager(s->manager());
  }
  auto staff_node = [&](const crm::v1::Staff& s, crm::v1::StaffNode* node) {
    *node->mutable_staff() = s;
    *node->mutable_workload() = workload_of(StaffId(s));
    for (const auto& id : reports[StaffId(s)]) node->add_direct_reports(id);
  };

  for (const auto& d : snapshot.departments) {
    if (!department_names.count(d.name())) continue;
    auto* dnode = chart.add_departments();
    *dnode->mutable_department() = d;
    std::map<std::string, crm::v1::TeamNode*> team_nodes;
    for (const auto& t : snapshot.teams) {
      if (t.department() != d.name()) continue;
      auto* tnode = dnode->add_teams();
      *tnode->mutable_team() = t;
      tnode->mutable_workload();
      team_nodes[t.name()] = tnode;
    }
    for (const auto* s : shown) {
      if (s->department() != d.name()) continue;
      auto it = team_nodes.find(s->team());
      crm::v1::StaffNode* node;
      if (!s->team().empty() && it != team_nodes.end()) {
        node = it->second->add_staff();
        AddTo(*it->second->mutable_workload(), workload_of(StaffId(*s)));
      } else {
        // No team, or (a deactivated person's) team that has since moved elsewhere.
        node = dnode->add_staff();
      }
      staff_node(*s, node);
      AddTo(*dnode->mutable_workload(), node->workload());
    }
    AddTo(*chart.mutable_total(), dnode->workload());
  }
  if (department.empty()) {
    Workload& unattributed = *chart.mutable_unattributed();
    for (const auto& [staff_id, w] : snapshot.workloads) {
      if (!shown_ids.count(staff_id)) AddTo(unattributed, w);
    }
  }
  return chart;
}

std::string RenderDot(const OrgChart& chart) {
  std::string out = "digraph org {\n  rankdir=TB;\n  node [shape=box];\n";
  std::set<std::string> shown;
  for (const auto& d : chart.departments()) {
    const crm::v1::Department& dep = d.department();
    absl::StrAppend(&out, "  subgraph \"cluster_", DotEscape(dep.name()), "\" {\n    label=\"",
                    DotEscape(absl::StrCat(dep.display_name(), " [",
                                           crm::v1::DepartmentFunction_Name(dep.function()), "]\n",
                                           WorkText(d.workload()))),
                    "\";\n");
    for (const auto& t : d.teams()) {
      absl::StrAppend(
          &out, "    subgraph \"cluster_", DotEscape(t.team().name()), "\" {\n      label=\"",
          DotEscape(absl::StrCat(t.team().display_name(), "\n", WorkText(t.workload()))), "\";\n");
      for (const auto& s : t.staff()) {
        DotStaff(s, "      ", out);
        shown.insert(StaffId(s.staff()));
      }
      out += "    }\n";
    }
    for (const auto& s : d.staff()) {
      DotStaff(s, "    ", out);
      shown.insert(StaffId(s.staff()));
    }
    out += "  }\n";
  }
  for (const auto& line : chart.reporting_lines()) {
    if (!shown.count(line.staff_id()) || !shown.count(line.manager())) continue;
    absl::StrAppend(&out, "  \"", DotEscape(domain::org::StaffName(line.staff_id())), "\" -> \"",
                    DotEscape(domain::org::StaffName(line.manager())),
                    "\" [style=dashed, label=\"reports to\"];\n");
  }
  out += "}\n";
  return out;
}

std::string RenderMermaid(const OrgChart& chart) {
  std::string out = "flowchart TB\n";
  std::set<std::string> shown;
  for (const auto& d : chart.departments()) {
    const crm::v1::Department& dep = d.department();
    absl::StrAppend(&out, "  subgraph ", MermaidId("d", dep.name(), domain::org::kDepartmentPrefix),
                    "[\"",
                    MermaidEscape(absl::StrCat(dep.display_name(), " [",
                                               crm::v1::DepartmentFunction_Name(dep.function()),
                                               "]\n", WorkText(d.workload()))),
                    "\"]\n");
    for (const auto& t : d.teams()) {
      absl::StrAppend(
          &out, "    subgraph ", MermaidId("t", t.team().name(), domain::org::kTeamPrefix), "[\"",
          MermaidEscape(absl::StrCat(t.team().display_name(), "\n", WorkText(t.workload()))),
          "\"]\n");
      for (const auto& s : t.staff()) {
        MermaidStaff(s, "      ", out);
        shown.insert(StaffId(s.staff()));
      }
      out += "    end\n";
    }
    for (const auto& s : d.staff()) {
      MermaidStaff(s, "    ", out);
      shown.insert(StaffId(s.staff()));
    }
    out += "  end\n";
  }
  for (const auto& line : chart.reporting_lines()) {
    if (!shown.count(line.staff_id()) || !shown.count(line.manager())) continue;
    absl::StrAppend(
        &out, "  ",
        MermaidId("s", domain::org::StaffName(line.staff_id()), domain::org::kStaffPrefix),
        " -.->|reports to| ",
        MermaidId("s", domain::org::StaffName(line.manager()), domain::org::kStaffPrefix), "\n");
  }
  return out;
}

}  // namespace crm::services::org
