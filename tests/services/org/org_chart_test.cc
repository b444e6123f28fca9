#include "services/org/org_chart.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::services::org {
namespace {

using ::testing::ElementsAre;

crm::v1::Staff Person(const std::string& id, const std::string& display_name,
                      crm::v1::StaffRole role, crm::v1::StaffLevel level,
                      const std::string& department, const std::string& team,
                      const std::string& manager, bool active = true) {
  crm::v1::Staff s;
  s.set_name("staff/" + id);
  s.set_display_name(display_name);
  s.set_role(role);
  s.set_level(level);
  s.set_department("departments/" + department);
  if (!team.empty()) s.set_team("teams/" + team);
  s.set_manager(manager);
  s.set_active(active);
  return s;
}

crm::v1::Workload Work(int64_t customers, int64_t open, int64_t overdue_complaints,
                       int64_t overdue_follow_ups) {
  crm::v1::Workload w;
  w.set_customers_owned(customers);
  w.set_open_complaints(open);
  w.set_overdue_complaints(overdue_complaints);
  w.set_overdue_follow_ups(overdue_follow_ups);
  w.set_overdue_items(overdue_complaints + overdue_follow_ups);
  return w;
}

// A small org: Sales (team North: Ann; Wang the manager without a team) and Customer service
// (no team: Li), everyone reporting to Wang; a deactivated Zoe without work; a former
// account manager "old" with a customer left.
OrgSnapshot SmallOrg() {
  OrgSnapshot s;
  crm::v1::Department cs;
  cs.set_name("departments/cs");
  cs.set_display_name("Customer \"Care\"");
  cs.set_function(crm::v1::CUSTOMER_SERVICE);
  crm::v1::Department sales;
  sales.set_name("departments/sales");
  sales.set_display_name("Sales");
  sales.set_function(crm::v1::SALES);
  s.departments = {cs, sales};
  crm::v1::Team north;
  north.set_name("teams/north-1");
  north.set_display_name("North <1>");
  north.set_department("departments/sales");
  s.teams = {north};
  s.staff = {
      Person("ann", "Ann", crm::v1::ACCOUNT_MANAGER, crm::v1::FRONT_LINE, "sales", "north-1",
             "wang"),
      Person("li", "Li", crm::v1::SERVICE_AGENT, crm::v1::FRONT_LINE, "cs", "", "wang"),
      Person("old", "Old", crm::v1::ACCOUNT_MANAGER, crm::v1::FRONT_LINE, "sales", "north-1",
             "wang",
             /*active=*/false),
      Person("wang", "Wang", crm::v1::MANAGER, crm::v1::SENIOR, "sales", "", ""),
      Person("zoe", "Zoe", crm::v1::SERVICE_AGENT, crm::v1::FRONT_LINE, "cs", "", "wang",
             /*active=*/false),
  };
  s.workloads = {
      {"", Work(0, 1, 1, 0)},       // an unassigned complaint, overdue
      {"ann", Work(2, 1, 1, 0)},    //
      {"ghost", Work(1, 0, 0, 0)},  // an owner id unknown to the org
      {"li", Work(0, 2, 0, 1)},     //
      {"old", Work(1, 0, 0, 0)},    // deactivated but still owns a customer
      {"wang", Work(1, 0, 0, 0)},
  };
  return s;
}

TEST(OrgChartTest, TreeWithWorkloadSummedUp) {
  crm::v1::OrgChart chart = BuildOrgChart(SmallOrg(), "", /*include_inactive=*/false);
  ASSERT_EQ(chart.departments_size(), 2);

  const auto& cs = chart.departments(0);
  EXPECT_EQ(cs.department().name(), "departments/cs");
  EXPECT_EQ(cs.teams_size(), 0);
  ASSERT_EQ(cs.staff_size(), 1);  // Zoe is deactivated without work: not shown
  EXPECT_EQ(cs.staff(0).staff().name(), "staff/li");
  EXPECT_EQ(cs.workload().open_complaints(), 2);
  EXPECT_EQ(cs.workload().overdue_items(), 1);

  const auto& sales = chart.departments(1);
  ASSERT_EQ(sales.teams_size(), 1);
  const auto& north = sales.teams(0);
  ASSERT_EQ(north.staff_size(), 2);  // Ann, and Old who still owns a customer
  EXPECT_EQ(north.staff(1).staff().name(), "staff/old");
  EXPECT_EQ(north.workload().customers_owned(), 3);
  EXPECT_EQ(north.workload().overdue_complaints(), 1);
  ASSERT_EQ(sales.staff_size(), 1);
  EXPECT_EQ(sales.staff(0).staff().name(), "staff/wang");
  EXPECT_THAT(sales.staff(0).direct_reports(), ElementsAre("ann", "li", "old"));
  EXPECT_EQ(sales.workload().customers_owned(), 4);

  EXPECT_EQ(chart.total().customers_owned(), 4);
  EXPECT_EQ(chart.total().open_complaints(), 3);
  EXPECT_EQ(chart.total().overdue_items(), 2);
  EXPECT_EQ(chart.unattributed().customers_owned(), 1);  // ghost
  EXPECT_EQ(chart.unattributed().open_complaints(), 1);  // unassigned
  EXPECT_EQ(chart.reporting_lines_size(), 3);
  EXPECT_EQ(chart.reporting_lines(0).staff_id(), "ann");
  EXPECT_EQ(chart.reporting_lines(0).manager(), "wang");
}

TEST(OrgChartTest, InactiveStaffOnRequestAndOneDepartment) {
  crm::v1::OrgChart chart = BuildOrgChart(SmallOrg(), "departments/cs", /*include_inactive=*/true);
  ASSERT_EQ(chart.departments_size(), 1);
  ASSERT_EQ(chart.departments(0).staff_size(), 2);
  EXPECT_EQ(chart.departments(0).staff(1).staff().name(), "staff/zoe");
  // Their manager is outside the chart: the lines are listed, nobody has direct reports.
  EXPECT_EQ(chart.reporting_lines_size(), 2);
  EXPECT_EQ(chart.total().open_complaints(), 2);
  EXPECT_FALSE(chart.has_unattributed());
}

TEST(OrgChartTest, DotGolden) {
  crm::v1::OrgChart chart = BuildOrgChart(SmallOrg(), "", /*include_inactive=*/false);
  EXPECT_EQ(RenderDot(chart), R"golden(digraph org {
  rankdir=TB;
  node [shape=box];
  subgraph "cluster_departments/cs" {
    label="Customer \"Care\" [CUSTOMER_SERVICE]\ncustomers 0, open complaints 2, overdue 1";
    "staff/li" [label="Li (li)\nSERVICE_AGENT, FRONT_LINE\ncustomers 0, open complaints 2, overdue 1"];
  }
  subgraph "cluster_departments/sales" {
    label="Sales [SALES]\ncustomers 4, open complaints 1, overdue 1";
    subgraph "cluster_teams/north-1" {
      label="North <1>\ncustomers 3, open complaints 1, overdue 1";
      "staff/ann" [label="Ann (ann)\nACCOUNT_MANAGER, FRONT_LINE\ncustomers 2, open complaints 1, overdue 1"];
      "staff/old" [label="Old (old)\nACCOUNT_MANAGER, FRONT_LINE, deactivated\ncustomers 1, open complaints 0, overdue 0", style=dashed];
    }
    "staff/wang" [label="Wang (wang)\nMANAGER, SENIOR\ncustomers 1, open complaints 0, overdue 0"];
  }
  "staff/ann" -> "staff/wang" [style=dashed, label="reports to"];
  "staff/li" -> "staff/wang" [style=dashed, label="reports to"];
  "staff/old" -> "staff/wang" [style=dashed, label="reports to"];
}
)golden");
}

TEST(OrgChartTest, MermaidGolden) {
  crm::v1::OrgChart chart = BuildOrgChart(SmallOrg(), "", /*include_inactive=*/false);
  EXPECT_EQ(RenderMermaid(chart), R"golden(flowchart TB
  subgraph d_cs["Customer #quot;Care#quot; [CUSTOMER_SERVICE]<br/>customers 0, open complaints 2, overdue 1"]
    s_li["Li (li)<br/>SERVICE_AGENT, FRONT_LINE<br/>customers 0, open complaints 2, overdue 1"]
  end
  subgraph d_sales["Sales [SALES]<br/>customers 4, open complaints 1, overdue 1"]
    subgraph t_north_1["North #lt;1#gt;<br/>customers 3, open complaints 1, overdue 1"]
      s_ann["Ann (ann)<br/>ACCOUNT_MANAGER, FRONT_LINE<br/>customers 2, open complaints 1, overdue 1"]
      s_old["Old (old)<br/>ACCOUNT_MANAGER, FRONT_LINE, deactivated<br/>customers 1, open complaints 0, overdue 0"]
    end
    s_wang["Wang (wang)<br/>MANAGER, SENIOR<br/>customers 1, open complaints 0, overdue 0"]
  end
  s_ann -.->|reports to| s_wang
  s_li -.->|reports to| s_wang
  s_old -.->|reports to| s_wang
)golden");
}

TEST(OrgChartTest, EmptyOrg) {
  crm::v1::OrgChart chart = BuildOrgChart(OrgSnapshot(), "", false);
  EXPECT_EQ(RenderDot(chart), "digraph org {\n  rankdir=TB;\n  node [shape=box];\n}\n");
  EXPECT_EQ(RenderMermaid(chart), "flowchart TB\n");
}

}  // namespace
}  // namespace crm::services::org
