#include "domain/org/org_aggregate.h"

#include <map>
#include <string>
#include <vector>

#include "common/status/errors.h"
#include "domain/org/org_names.h"
#include "domain/org/org_rules.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::domain::org {
namespace {

using crm::v1::Department;
using crm::v1::Staff;
using crm::v1::Team;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Fields(const absl::Status& status) {
  google::rpc::BadRequest bad_request;
  std::vector<std::string> fields;
  if (crm::status::GetDetail(status, &bad_request)) {
    for (const auto& fv : bad_request.field_violations()) fields.push_back(fv.field());
  }
  return fields;
}

google::rpc::ErrorInfo Info(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  crm::status::GetDetail(status, &info);
  return info;
}

std::string Reason(const absl::Status& status) { return Info(status).reason(); }
std::string Meta(const absl::Status& status, const std::string& key) {
  auto info = Info(status);
  auto it = info.metadata().find(key);
  return it == info.metadata().end() ? "<unset>" : it->second;
}

// Stamps an event as the executor would: aggregate, version, recorded_at.
Event Stamped(Event event, const std::string& aggregate, int64_t version, int64_t seconds) {
  event.set_aggregate(aggregate);
  event.set_aggregate_version(version);
  event.mutable_recorded_at()->set_seconds(seconds);
  *event.mutable_occurred_at() = event.recorded_at();
  return event;
}

// An in-memory organisation: decided events are applied to it, as the command state would.
class Org {
 public:
  OrgLookup Lookup() {
    OrgLookup lookup;
    lookup.department = [this](absl::string_view id) -> absl::StatusOr<std::optional<Department>> {
      auto it = departments.find(std::string(id));
      if (it == departments.end()) return std::nullopt;
      return it->second;
    };
    lookup.team = [this](absl::string_view id) -> absl::StatusOr<std::optional<Team>> {
      auto it = teams.find(std::string(id));
      if (it == teams.end()) return std::nullopt;
      return it->second;
    };
    lookup.staff = [this](absl::string_view id) -> absl::StatusOr<std::optional<Staff>> {
      auto it = staff.find(std::string(id));
      if (it == staff.end()) return std::nullopt;
      return it->second;
    };
    lookup.active_team_members =
        [this](absl::string_view team_id) -> absl::StatusOr<std::vector<std::string>> {
      std::vector<std::string> out;
      for (const auto& [id, s] : staff) {
        if (s.active() && s.team() == TeamName(team_id)) out.push_back(id);
      }
      return out;
    };
    lookup.active_department_members =
        [this](absl::string_view department_id) -> absl::StatusOr<std::vector<std::string>> {
      std::vector<std::string> out;
      for (const auto& [id, s] : staff) {
        if (s.active() && s.department() == DepartmentName(department_id)) out.push_back(id);
      }
      return out;
    };
    lookup.department_teams =
        [this](absl::string_view department_id) -> absl::StatusOr<std::vector<std::string>> {
      std::vector<std::string> out;
      for (const auto& [id, t] : teams) {
        if (!t.has_delete_time() && t.department() == DepartmentName(department_id)) {
          out.push_back(id);
        }
      }
      return out;
    };
    return lookup;
  }

  void AddDepartment(const std::string& id, crm::v1::DepartmentFunction function) {
    crm::v1::CreateDepartmentRequest request;
    request.mutable_department()->set_display_name(id);
    request.mutable_department()->set_function(function);
    auto events = DecideCreateDepartment(departments[id], request, id, Lookup());
    ASSERT_TRUE(events.ok()) << events.status();
    ApplyAll(departments[id], *events, DepartmentName(id), &ApplyDepartment);
  }

  void AddTeam(const std::string& id, const std::string& department) {
    crm::v1::CreateTeamRequest request;
    request.mutable_team()->set_display_name(id);
    request.mutable_team()->set_department(DepartmentName(department));
    auto events = DecideCreateTeam(teams[id], request, id, Lookup());
    ASSERT_TRUE(events.ok()) << events.status();
    ApplyAll(teams[id], *events, TeamName(id), &ApplyTeam);
  }

  void AddStaff(const std::string& id, const std::string& department, const std::string& team,
                const std::string& manager, crm::v1::StaffRole role = crm::v1::ACCOUNT_MANAGER) {
    crm::v1::AddStaffRequest request;
    Staff* s = request.mutable_staff();
    s->set_display_name(id);
    s->set_role(role);
    s->set_level(crm::v1::FRONT_LINE);
    s->set_department(DepartmentName(department));
    if (!team.empty()) s->set_team(TeamName(team));
    s->set_manager(manager);
    auto events = DecideAddStaff(staff[id], request, id, Lookup());
    ASSERT_TRUE(events.ok()) << events.status();
    ApplyAll(staff[id], *events, StaffName(id), &ApplyStaff);
  }

  template <typename T>
  void ApplyAll(T& state, const Events& events, const std::string& aggregate,
                absl::Status (*apply)(T&, const Event&)) {
    for (const Event& e : events) {
      absl::Status s = apply(state, Stamped(e, aggregate, state.version() + 1, ++clock_));
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  std::map<std::string, Department> departments;
  std::map<std::string, Team> teams;
  std::map<std::string, Staff> staff;

 private:
  int64_t clock_ = 1'700'000'000;
};

class OrgAggregateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    org_.AddDepartment("sales", crm::v1::SALES);
    org_.AddDepartment("service", crm::v1::CUSTOMER_SERVICE);
    org_.AddTeam("north", "sales");
    org_.AddTeam("desk", "service");
    org_.AddStaff("boss", "sales", "", "", crm::v1::MANAGER);
    org_.AddStaff("sue", "sales", "north", "boss", crm::v1::SUPERVISOR);
    org_.AddStaff("ann", "sales", "north", "sue");
  }

  crm::v1::UpdateStaffRequest StaffUpdate(const std::string& id) {
    crm::v1::UpdateStaffRequest request;
    request.mutable_staff()->set_name(StaffName(id));
    return request;
  }

  Org org_;
};

// ---------------------------------------------------------------------------------------------
// Rules other areas use.

TEST(OrgRulesTest, RolesThatMayOwnCustomers) {
  EXPECT_TRUE(MayOwnCustomers(crm::v1::ACCOUNT_MANAGER));
  EXPECT_TRUE(MayOwnCustomers(crm::v1::CUSTOMER_REPRESENTATIVE));
  EXPECT_TRUE(MayOwnCustomers(crm::v1::SUPERVISOR));
  EXPECT_TRUE(MayOwnCustomers(crm::v1::MANAGER));
  EXPECT_FALSE(MayOwnCustomers(crm::v1::SERVICE_AGENT));
  EXPECT_FALSE(MayOwnCustomers(crm::v1::STAFF_ROLE_UNSPECIFIED));
  EXPECT_FALSE(MayOwnCustomers(static_cast<crm::v1::StaffRole>(99)));
}

TEST(OrgRulesTest, RolesThatMayHandleComplaints) {
  EXPECT_TRUE(MayHandleComplaints(crm::v1::SERVICE_AGENT));
  EXPECT_TRUE(MayHandleComplaints(crm::v1::CUSTOMER_REPRESENTATIVE));
  EXPECT_TRUE(MayHandleComplaints(crm::v1::SUPERVISOR));
  EXPECT_TRUE(MayHandleComplaints(crm::v1::MANAGER));
  EXPECT_FALSE(MayHandleComplaints(crm::v1::ACCOUNT_MANAGER));
  EXPECT_FALSE(MayHandleComplaints(crm::v1::STAFF_ROLE_UNSPECIFIED));
}

TEST(OrgNamesTest, IdsAndNames) {
  EXPECT_TRUE(ValidateOrgId("sales-1", "f").ok());
  EXPECT_TRUE(ValidateOrgId("9", "f").ok());
  EXPECT_FALSE(ValidateOrgId("", "f").ok());
  EXPECT_FALSE(ValidateOrgId("-x", "f").ok());
  EXPECT_FALSE(ValidateOrgId("Sales", "f").ok());
  EXPECT_FALSE(ValidateOrgId("a_b", "f").ok());
  EXPECT_FALSE(ValidateOrgId(std::string(64, 'a'), "f").ok());
  EXPECT_TRUE(ValidateOrgId(std::string(63, 'a'), "f").ok());

  EXPECT_EQ(*ParseTeamName("teams/north", "team"), "north");
  auto bad = ParseTeamName("departments/north", "team");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(bad.status()), ElementsAre("team"));
  EXPECT_FALSE(ParseStaffName("staff/", "name").ok());
  EXPECT_EQ(IdOf("staff/ann", kStaffPrefix), "ann");
  EXPECT_EQ(IdOf("teams/ann", kStaffPrefix), "");
  EXPECT_EQ(Etag(7), "v7");
  EXPECT_EQ(*ParseEtag("v12", "etag"), 12);
  EXPECT_FALSE(ParseEtag("12", "etag").ok());
  EXPECT_FALSE(ParseEtag("v", "etag").ok());
  EXPECT_FALSE(ParseEtag("v1x", "etag").ok());
}

// ---------------------------------------------------------------------------------------------
// Departments.

TEST_F(OrgAggregateTest, CreateDepartmentRecordsItsFields) {
  crm::v1::CreateDepartmentRequest request;
  request.mutable_department()->set_display_name("Marketing");
  request.mutable_department()->set_function(crm::v1::MARKETING);
  request.mutable_department()->set_head("boss");
  auto events = DecideCreateDepartment(Department(), request, "marketing", org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  const crm::events::v1::DepartmentProfile& d = (*events)[0].department_created().department();
  EXPECT_EQ(d.name(), "departments/marketing");
  EXPECT_EQ(d.display_name(), "Marketing");
  EXPECT_EQ(d.function(), crm::events::v1::MARKETING);
  EXPECT_EQ(d.head(), "boss");

  Department state;
  ASSERT_TRUE(
      ApplyDepartment(state, Stamped((*events)[0], "departments/marketing", 1, 1'800'000'000))
          .ok());
  EXPECT_EQ(state.name(), "departments/marketing");
  EXPECT_EQ(state.version(), 1);
  EXPECT_EQ(state.etag(), "v1");
  EXPECT_EQ(state.create_time().seconds(), 1'800'000'000);
  EXPECT_EQ(state.update_time().seconds(), 1'800'000'000);
  EXPECT_EQ(state.head(), "boss");
}

TEST_F(OrgAggregateTest, CreateDepartmentListsEveryBadField) {
  crm::v1::CreateDepartmentRequest request;
  request.set_request_id("\x01");
  request.mutable_department()->set_display_name("  ");
  request.mutable_department()->set_function(static_cast<crm::v1::DepartmentFunction>(42));
  request.mutable_department()->set_head("Not_An_Id");
  request.mutable_department()->set_version(3);
  auto events = DecideCreateDepartment(Department(), request, "-bad", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(events.status()),
              ElementsAre("department_id", "request_id", "department.display_name",
                          "department.function", "department.head", "department.version"));
}

TEST_F(OrgAggregateTest, CreateDepartmentRequiresAFunction) {
  crm::v1::CreateDepartmentRequest request;
  request.mutable_department()->set_display_name("X");
  auto events = DecideCreateDepartment(Department(), request, "x", org_.Lookup());
  EXPECT_THAT(Fields(events.status()), ElementsAre("department.function"));
}

TEST_F(OrgAggregateTest, CreateDepartmentTwiceIsAlreadyExists) {
  crm::v1::CreateDepartmentRequest request;
  request.mutable_department()->set_display_name("Sales");
  request.mutable_department()->set_function(crm::v1::SALES);
  auto events = DecideCreateDepartment(org_.departments["sales"], request, "sales", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(events.status()), "DEPARTMENT_ALREADY_EXISTS");
}

TEST_F(OrgAggregateTest, DepartmentHeadMustBeKnownAndActive) {
  crm::v1::CreateDepartmentRequest request;
  request.mutable_department()->set_display_name("M");
  request.mutable_department()->set_function(crm::v1::MARKETING);
  request.mutable_department()->set_head("ghost");
  auto events = DecideCreateDepartment(Department(), request, "m", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "STAFF_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "department.head");

  org_.staff["boss"].set_active(false);
  request.mutable_department()->set_head("boss");
  events = DecideCreateDepartment(Department(), request, "m", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "STAFF_INACTIVE");
  EXPECT_EQ(Meta(events.status(), "field"), "department.head");
}

TEST_F(OrgAggregateTest, UpdateDepartmentRecordsOnlyChangedMaskedPaths) {
  crm::v1::UpdateDepartmentRequest request;
  request.mutable_department()->set_name("departments/sales");
  request.mutable_department()->set_display_name("Sales EMEA");
  request.mutable_department()->set_function(crm::v1::SALES);  // unchanged
  request.mutable_department()->set_head("boss");
  auto events = DecideUpdateDepartment(org_.departments["sales"], request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_THAT((*events)[0].department_updated().changed_paths(),
              ElementsAre("display_name", "head"));

  Department& state = org_.departments["sales"];
  org_.ApplyAll(state, *events, "departments/sales", &ApplyDepartment);
  EXPECT_EQ(state.display_name(), "Sales EMEA");
  EXPECT_EQ(state.head(), "boss");
  EXPECT_EQ(state.version(), 2);
  EXPECT_EQ(state.etag(), "v2");
  EXPECT_LT(state.create_time().seconds(), state.update_time().seconds());

  // Same again: nothing changes, no event.
  events = DecideUpdateDepartment(state, request, org_.Lookup());
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
}

TEST_F(OrgAggregateTest, UpdateDepartmentStarMaskClearsTheHead) {
  Department& state = org_.departments["sales"];
  state.set_head("boss");
  crm::v1::UpdateDepartmentRequest request;
  request.mutable_department()->set_name("departments/sales");
  request.mutable_department()->set_display_name(state.display_name());
  request.mutable_department()->set_function(state.function());
  request.mutable_update_mask()->add_paths("*");
  auto events = DecideUpdateDepartment(state, request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_THAT((*events)[0].department_updated().changed_paths(), ElementsAre("head"));
  EXPECT_EQ((*events)[0].department_updated().department().head(), "");
}

TEST_F(OrgAggregateTest, UpdateDepartmentRejectsUnknownMaskPaths) {
  crm::v1::UpdateDepartmentRequest request;
  request.mutable_department()->set_name("departments/sales");
  request.mutable_update_mask()->add_paths("display_name");
  request.mutable_update_mask()->add_paths("version");
  request.mutable_update_mask()->add_paths("*");
  auto events = DecideUpdateDepartment(org_.departments["sales"], request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  // display_name is masked but empty: required.
  EXPECT_THAT(Fields(events.status()),
              ElementsAre("update_mask.paths[1]", "update_mask.paths[2]", "department.display_name",
                          "department.function"));
}

TEST_F(OrgAggregateTest, UpdateMissingDepartmentIsNotFound) {
  crm::v1::UpdateDepartmentRequest request;
  request.mutable_department()->set_name("departments/nope");
  request.mutable_department()->set_display_name("x");
  auto events = DecideUpdateDepartment(Department(), request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "DEPARTMENT_NOT_FOUND");
  google::rpc::ResourceInfo info;
  ASSERT_TRUE(crm::status::GetDetail(events.status(), &info));
  EXPECT_EQ(info.resource_name(), "departments/nope");
}

TEST_F(OrgAggregateTest, StaleEtagIsAborted) {
  crm::v1::UpdateDepartmentRequest request;
  request.mutable_department()->set_name("departments/sales");
  request.mutable_department()->set_display_name("x");
  request.set_etag("v9");
  auto events = DecideUpdateDepartment(org_.departments["sales"], request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Reason(events.status()), "ETAG_MISMATCH");
  EXPECT_EQ(Meta(events.status(), "current_etag"), "v1");

  // Even a no-op is refused with a stale etag; the right one passes.
  request.mutable_department()->set_display_name("sales");
  events = DecideUpdateDepartment(org_.departments["sales"], request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAborted);
  request.set_etag("v1");
  events = DecideUpdateDepartment(org_.departments["sales"], request, org_.Lookup());
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());

  request.set_etag("7");
  events = DecideUpdateDepartment(org_.departments["sales"], request, org_.Lookup());
  EXPECT_THAT(Fields(events.status()), ElementsAre("etag"));
}

// ---------------------------------------------------------------------------------------------
// Teams.

TEST_F(OrgAggregateTest, TeamDepartmentMustExist) {
  crm::v1::CreateTeamRequest request;
  request.mutable_team()->set_display_name("South");
  request.mutable_team()->set_department("departments/nowhere");
  auto events = DecideCreateTeam(Team(), request, "south", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "DEPARTMENT_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "team.department");

  request.mutable_team()->set_department("sales");
  events = DecideCreateTeam(Team(), request, "south", org_.Lookup());
  EXPECT_THAT(Fields(events.status()), ElementsAre("team.department"));

  request.mutable_team()->clear_department();
  events = DecideCreateTeam(Team(), request, "south", org_.Lookup());
  EXPECT_THAT(Fields(events.status()), ElementsAre("team.department"));
}

TEST_F(OrgAggregateTest, CreateTeamWithLead) {
  crm::v1::CreateTeamRequest request;
  request.mutable_team()->set_display_name("South");
  request.mutable_team()->set_department("departments/sales");
  request.mutable_team()->set_lead("sue");
  auto events = DecideCreateTeam(Team(), request, "south", org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  Team state;
  org_.ApplyAll(state, *events, "teams/south", &ApplyTeam);
  EXPECT_EQ(state.name(), "teams/south");
  EXPECT_EQ(state.department(), "departments/sales");
  EXPECT_EQ(state.lead(), "sue");
  EXPECT_EQ(state.etag(), "v1");

  request.mutable_team()->set_lead("ghost");
  events = DecideCreateTeam(Team(), request, "south2", org_.Lookup());
  EXPECT_EQ(Reason(events.status()), "STAFF_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "team.lead");
}

TEST_F(OrgAggregateTest, MovingATeamWithActiveMembersIsRefused) {
  crm::v1::UpdateTeamRequest request;
  request.mutable_team()->set_name("teams/north");
  request.mutable_team()->set_department("departments/service");
  auto events = DecideUpdateTeam(org_.teams["north"], request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "TEAM_HAS_MEMBERS");
  EXPECT_THAT(std::string(events.status().message()), HasSubstr("ann, sue"));

  // Once its members are gone (deactivated here), it may move.
  org_.staff["ann"].set_active(false);
  org_.staff["sue"].set_active(false);
  events = DecideUpdateTeam(org_.teams["north"], request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT((*events)[0].team_updated().changed_paths(), ElementsAre("department"));

  request.mutable_team()->set_department("departments/nowhere");
  events = DecideUpdateTeam(org_.teams["north"], request, org_.Lookup());
  EXPECT_EQ(Reason(events.status()), "DEPARTMENT_NOT_FOUND");
}

TEST_F(OrgAggregateTest, RenamingATeamWithMembersIsFine) {
  crm::v1::UpdateTeamRequest request;
  request.mutable_team()->set_name("teams/north");
  request.mutable_team()->set_display_name("North & Baltics");
  auto events = DecideUpdateTeam(org_.teams["north"], request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  org_.ApplyAll(org_.teams["north"], *events, "teams/north", &ApplyTeam);
  EXPECT_EQ(org_.teams["north"].display_name(), "North & Baltics");
  EXPECT_EQ(org_.teams["north"].department(), "departments/sales");
}

// ---------------------------------------------------------------------------------------------
// Staff.

TEST_F(OrgAggregateTest, AddStaffRecordsAnActivePerson) {
  crm::v1::AddStaffRequest request;
  Staff* s = request.mutable_staff();
  s->set_display_name("Bob");
  s->set_email("  Bob@Example.COM ");
  s->set_role(crm::v1::SERVICE_AGENT);
  s->set_level(crm::v1::FRONT_LINE);
  s->set_department("departments/sales");
  s->set_team("teams/north");
  s->set_manager("sue");
  s->set_active(false);  // ignored: a new person is active
  auto events = DecideAddStaff(Staff(), request, "bob", org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  const crm::events::v1::StaffProfile& added = (*events)[0].staff_added().staff();
  EXPECT_EQ(added.name(), "staff/bob");
  EXPECT_EQ(added.email(), "bob@example.com");
  EXPECT_TRUE(added.active());

  Staff state;
  ASSERT_TRUE(ApplyStaff(state, Stamped((*events)[0], "staff/bob", 1, 1'800'000'000)).ok());
  EXPECT_EQ(state.name(), "staff/bob");
  EXPECT_EQ(state.role(), crm::v1::SERVICE_AGENT);
  EXPECT_EQ(state.level(), crm::v1::FRONT_LINE);
  EXPECT_EQ(state.department(), "departments/sales");
  EXPECT_EQ(state.team(), "teams/north");
  EXPECT_EQ(state.manager(), "sue");
  EXPECT_TRUE(state.active());
  EXPECT_EQ(state.version(), 1);
  EXPECT_EQ(state.etag(), "v1");
}

TEST_F(OrgAggregateTest, AddStaffRequiresRoleLevelAndDepartment) {
  crm::v1::AddStaffRequest request;
  request.mutable_staff()->set_display_name("Bob");
  request.mutable_staff()->set_email("not an email");
  request.mutable_staff()->set_team("north");
  request.mutable_staff()->set_manager("bob");
  request.mutable_staff()->set_etag("v1");
  auto events = DecideAddStaff(Staff(), request, "bob", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(events.status()),
              ElementsAre("staff.email", "staff.role", "staff.level", "staff.department",
                          "staff.team", "staff.manager", "staff.etag"));
}

TEST_F(OrgAggregateTest, AddStaffTwiceIsAlreadyExists) {
  crm::v1::AddStaffRequest request;
  Staff* s = request.mutable_staff();
  s->set_display_name("Ann");
  s->set_role(crm::v1::ACCOUNT_MANAGER);
  s->set_level(crm::v1::FRONT_LINE);
  s->set_department("departments/sales");
  auto events = DecideAddStaff(org_.staff["ann"], request, "ann", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(events.status()), "STAFF_ALREADY_EXISTS");
}

TEST_F(OrgAggregateTest, StaffTeamMustExistAndBelongToTheDepartment) {
  crm::v1::AddStaffRequest request;
  Staff* s = request.mutable_staff();
  s->set_display_name("Bob");
  s->set_role(crm::v1::SERVICE_AGENT);
  s->set_level(crm::v1::FRONT_LINE);
  s->set_department("departments/sales");
  s->set_team("teams/desk");  // of customer service
  auto events = DecideAddStaff(Staff(), request, "bob", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "TEAM_NOT_IN_DEPARTMENT");
  EXPECT_EQ(Meta(events.status(), "field"), "staff.team");

  s->set_team("teams/ghost");
  events = DecideAddStaff(Staff(), request, "bob", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "TEAM_NOT_FOUND");

  s->set_team("");
  s->set_department("departments/ghost");
  events = DecideAddStaff(Staff(), request, "bob", org_.Lookup());
  EXPECT_EQ(Reason(events.status()), "DEPARTMENT_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "staff.department");
}

TEST_F(OrgAggregateTest, ManagerMustBeKnownAndActive) {
  crm::v1::AddStaffRequest request;
  Staff* s = request.mutable_staff();
  s->set_display_name("Bob");
  s->set_role(crm::v1::SERVICE_AGENT);
  s->set_level(crm::v1::FRONT_LINE);
  s->set_department("departments/sales");
  s->set_manager("ghost");
  auto events = DecideAddStaff(Staff(), request, "bob", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "STAFF_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "staff.manager");

  org_.staff["sue"].set_active(false);
  s->set_manager("sue");
  events = DecideAddStaff(Staff(), request, "bob", org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "STAFF_INACTIVE");
}

TEST_F(OrgAggregateTest, ReportingLineMustNotFormACycle) {
  // boss <- sue <- ann. Making ann boss's manager closes the loop.
  auto request = StaffUpdate("boss");
  request.mutable_staff()->set_manager("ann");
  auto events = DecideUpdateStaff(org_.staff["boss"], request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "REPORTING_CYCLE");
  EXPECT_THAT(std::string(events.status().message()), HasSubstr("boss -> ann -> sue -> boss"));

  // Oneself is a bad request.
  request.mutable_staff()->set_manager("boss");
  events = DecideUpdateStaff(org_.staff["boss"], request, org_.Lookup());
  EXPECT_THAT(Fields(events.status()), ElementsAre("staff.manager"));

  // Sideways is fine: ann reports to boss directly.
  auto move = StaffUpdate("ann");
  move.mutable_staff()->set_manager("boss");
  events = DecideUpdateStaff(org_.staff["ann"], move, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT((*events)[0].staff_updated().changed_paths(), ElementsAre("manager"));
}

TEST_F(OrgAggregateTest, UpdateStaffChangingDepartmentChecksTheTeam) {
  auto request = StaffUpdate("ann");
  request.mutable_staff()->set_department("departments/service");
  auto events = DecideUpdateStaff(org_.staff["ann"], request, org_.Lookup());
  EXPECT_EQ(Reason(events.status()), "TEAM_NOT_IN_DEPARTMENT");

  request.mutable_staff()->set_team("teams/desk");
  events = DecideUpdateStaff(org_.staff["ann"], request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT((*events)[0].staff_updated().changed_paths(), ElementsAre("department", "team"));
  Staff& ann = org_.staff["ann"];
  org_.ApplyAll(ann, *events, "staff/ann", &ApplyStaff);
  EXPECT_EQ(ann.department(), "departments/service");
  EXPECT_EQ(ann.team(), "teams/desk");
  EXPECT_EQ(ann.version(), 2);

  // Leaving the team with an explicit mask.
  auto leave = StaffUpdate("ann");
  leave.mutable_update_mask()->add_paths("team");
  events = DecideUpdateStaff(ann, leave, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  org_.ApplyAll(ann, *events, "staff/ann", &ApplyStaff);
  EXPECT_EQ(ann.team(), "");
}

TEST_F(OrgAggregateTest, UpdateStaffKeepsRoleAndLevelRequired) {
  auto request = StaffUpdate("ann");
  request.mutable_update_mask()->add_paths("role");
  request.mutable_update_mask()->add_paths("level");
  auto events = DecideUpdateStaff(org_.staff["ann"], request, org_.Lookup());
  EXPECT_THAT(Fields(events.status()), ElementsAre("staff.role", "staff.level"));

  request.mutable_staff()->set_role(crm::v1::SUPERVISOR);
  request.mutable_staff()->set_level(crm::v1::MIDDLE);
  events = DecideUpdateStaff(org_.staff["ann"], request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  org_.ApplyAll(org_.staff["ann"], *events, "staff/ann", &ApplyStaff);
  EXPECT_EQ(org_.staff["ann"].role(), crm::v1::SUPERVISOR);
  EXPECT_EQ(org_.staff["ann"].level(), crm::v1::MIDDLE);
}

TEST_F(OrgAggregateTest, OnlyChangedReferencesAreChecked) {
  // sue's manager is deactivated; renaming sue still works.
  org_.staff["boss"].set_active(false);
  auto request = StaffUpdate("sue");
  request.mutable_staff()->set_display_name("Susan");
  request.mutable_staff()->set_manager("boss");  // unchanged
  auto events = DecideUpdateStaff(org_.staff["sue"], request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT((*events)[0].staff_updated().changed_paths(), ElementsAre("display_name"));
}

TEST_F(OrgAggregateTest, DeactivateStaffWithDirectReportsIsAllowed) {
  crm::v1::DeactivateStaffRequest request;
  request.set_name("staff/sue");
  request.set_reason("left the company");
  auto events = DecideDeactivateStaff(org_.staff["sue"], request);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].staff_deactivated().reason(), "left the company");
  Staff& sue = org_.staff["sue"];
  org_.ApplyAll(sue, *events, "staff/sue", &ApplyStaff);
  EXPECT_FALSE(sue.active());
  EXPECT_EQ(sue.manager(), "boss");               // kept
  EXPECT_EQ(org_.staff["ann"].manager(), "sue");  // still reports to her

  // Again: no change.
  events = DecideDeactivateStaff(sue, request);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());

  // A deactivated person cannot be changed, nor made someone's manager.
  auto update = StaffUpdate("sue");
  update.mutable_staff()->set_display_name("Susan");
  auto updated = DecideUpdateStaff(sue, update, org_.Lookup());
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(updated.status()), "STAFF_INACTIVE");
  auto rehang = StaffUpdate("boss");
  rehang.mutable_staff()->set_manager("sue");
  updated = DecideUpdateStaff(org_.staff["boss"], rehang, org_.Lookup());
  EXPECT_EQ(Reason(updated.status()), "STAFF_INACTIVE");
}

TEST_F(OrgAggregateTest, DeactivateValidatesTheRequest) {
  crm::v1::DeactivateStaffRequest request;
  request.set_name("staff/Sue");
  request.set_reason(std::string(501, 'x'));
  auto events = DecideDeactivateStaff(org_.staff["sue"], request);
  EXPECT_THAT(Fields(events.status()), ElementsAre("name", "reason"));

  request.set_name("staff/nobody");
  request.set_reason("");
  events = DecideDeactivateStaff(Staff(), request);
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "STAFF_NOT_FOUND");
}

std::vector<std::string> Subjects(const absl::Status& status) {
  google::rpc::PreconditionFailure failure;
  std::vector<std::string> out;
  if (crm::status::GetDetail(status, &failure)) {
    for (const auto& v : failure.violations()) out.push_back(v.subject());
  }
  return out;
}

TEST_F(OrgAggregateTest, ReactivateIsTheInverseOfDeactivate) {
  crm::v1::ReactivateStaffRequest request;
  request.set_name("staff/ann");
  request.set_reason("back from leave");
  // An active person cannot be reactivated.
  auto events = DecideReactivateStaff(org_.staff["ann"], request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "STAFF_ACTIVE");

  Staff& ann = org_.staff["ann"];
  crm::v1::DeactivateStaffRequest off;
  off.set_name("staff/ann");
  auto deactivated = DecideDeactivateStaff(ann, off);
  ASSERT_TRUE(deactivated.ok());
  org_.ApplyAll(ann, *deactivated, "staff/ann", &ApplyStaff);
  ASSERT_FALSE(ann.active());

  events = DecideReactivateStaff(ann, request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);  // same place: no StaffUpdated
  EXPECT_EQ((*events)[0].staff_reactivated().reason(), "back from leave");
  org_.ApplyAll(ann, *events, "staff/ann", &ApplyStaff);
  EXPECT_TRUE(ann.active());
  EXPECT_EQ(ann.team(), "teams/north");
  EXPECT_EQ(ann.version(), 3);
}

TEST_F(OrgAggregateTest, ReactivateToAnotherPlace) {
  Staff& ann = org_.staff["ann"];
  crm::v1::DeactivateStaffRequest off;
  off.set_name("staff/ann");
  org_.ApplyAll(ann, *DecideDeactivateStaff(ann, off), "staff/ann", &ApplyStaff);

  crm::v1::ReactivateStaffRequest request;
  request.set_name("staff/ann");
  request.set_team("teams/desk");  // not in her department (sales)
  auto events = DecideReactivateStaff(ann, request, org_.Lookup());
  EXPECT_EQ(Reason(events.status()), "TEAM_NOT_IN_DEPARTMENT");
  request.set_department("departments/nowhere");
  events = DecideReactivateStaff(ann, request, org_.Lookup());
  EXPECT_EQ(Reason(events.status()), "DEPARTMENT_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "department");
  request.set_department("service");  // not a resource name
  events = DecideReactivateStaff(ann, request, org_.Lookup());
  EXPECT_THAT(Fields(events.status()), ElementsAre("department"));

  request.set_department("departments/service");
  events = DecideReactivateStaff(ann, request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_TRUE((*events)[0].has_staff_reactivated());
  EXPECT_THAT((*events)[1].staff_updated().changed_paths(), ElementsAre("department", "team"));
  org_.ApplyAll(ann, *events, "staff/ann", &ApplyStaff);
  EXPECT_TRUE(ann.active());
  EXPECT_EQ(ann.department(), "departments/service");
  EXPECT_EQ(ann.team(), "teams/desk");
}

TEST_F(OrgAggregateTest, RemoveTeamRefusedWhileItHasActiveMembers) {
  crm::v1::RemoveTeamRequest request;
  request.set_name("teams/north");
  request.set_reason("merged");
  auto events = DecideRemoveTeam(org_.teams["north"], request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "TEAM_NOT_EMPTY");
  EXPECT_THAT(Subjects(events.status()), ElementsAre("staff/ann", "staff/sue"));

  org_.staff["ann"].set_active(false);
  org_.staff["sue"].set_active(false);
  Team& north = org_.teams["north"];
  events = DecideRemoveTeam(north, request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[0].team_removed().reason(), "merged");
  org_.ApplyAll(north, *events, "teams/north", &ApplyTeam);
  EXPECT_TRUE(north.has_delete_time());

  // Gone: removing, updating or referring to it is NOT_FOUND.
  events = DecideRemoveTeam(north, request, org_.Lookup());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  crm::v1::UpdateTeamRequest rename;
  rename.mutable_team()->set_name("teams/north");
  rename.mutable_team()->set_display_name("North again");
  EXPECT_EQ(DecideUpdateTeam(north, rename, org_.Lookup()).status().code(),
            absl::StatusCode::kNotFound);
  crm::v1::AddStaffRequest add;
  add.mutable_staff()->set_display_name("Bo");
  add.mutable_staff()->set_role(crm::v1::ACCOUNT_MANAGER);
  add.mutable_staff()->set_level(crm::v1::FRONT_LINE);
  add.mutable_staff()->set_department("departments/sales");
  add.mutable_staff()->set_team("teams/north");
  auto added = DecideAddStaff(Staff(), add, "bo", org_.Lookup());
  EXPECT_EQ(Reason(added.status()), "TEAM_NOT_FOUND");
  // No event applies after the removal.
  Event late;
  late.mutable_team_updated()->add_changed_paths("display_name");
  EXPECT_FALSE(ApplyTeam(north, Stamped(late, "teams/north", north.version() + 1, 1)).ok());
}

TEST_F(OrgAggregateTest, RemoveDepartmentRefusedWhileItHasStaffOrTeams) {
  crm::v1::RemoveDepartmentRequest request;
  request.set_name("departments/sales");
  auto events = DecideRemoveDepartment(org_.departments["sales"], request, org_.Lookup());
  EXPECT_EQ(Reason(events.status()), "DEPARTMENT_NOT_EMPTY");
  EXPECT_THAT(Subjects(events.status()),
              ElementsAre("teams/north", "staff/ann", "staff/boss", "staff/sue"));

  for (auto id : {"ann", "boss", "sue"}) org_.staff[id].set_active(false);
  events = DecideRemoveDepartment(org_.departments["sales"], request, org_.Lookup());
  EXPECT_THAT(Subjects(events.status()), ElementsAre("teams/north"));

  crm::v1::RemoveTeamRequest team;
  team.set_name("teams/north");
  auto removed = DecideRemoveTeam(org_.teams["north"], team, org_.Lookup());
  ASSERT_TRUE(removed.ok()) << removed.status();
  org_.ApplyAll(org_.teams["north"], *removed, "teams/north", &ApplyTeam);
  Department& sales = org_.departments["sales"];
  events = DecideRemoveDepartment(sales, request, org_.Lookup());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_TRUE((*events)[0].has_department_removed());
  org_.ApplyAll(sales, *events, "departments/sales", &ApplyDepartment);
  EXPECT_TRUE(sales.has_delete_time());

  // A team cannot be created in it, and a person returning there is refused.
  crm::v1::CreateTeamRequest create;
  create.mutable_team()->set_display_name("South");
  create.mutable_team()->set_department("departments/sales");
  EXPECT_EQ(Reason(DecideCreateTeam(Team(), create, "south", org_.Lookup()).status()),
            "DEPARTMENT_NOT_FOUND");
  crm::v1::ReactivateStaffRequest back;
  back.set_name("staff/boss");
  auto reactivated = DecideReactivateStaff(org_.staff["boss"], back, org_.Lookup());
  EXPECT_EQ(Reason(reactivated.status()), "DEPARTMENT_NOT_FOUND");
  EXPECT_EQ(Meta(reactivated.status(), "field"), "staff.department");
}

TEST_F(OrgAggregateTest, RemoveValidatesTheRequest) {
  crm::v1::RemoveTeamRequest team;
  team.set_name("north");
  team.set_reason(std::string(501, 'x'));
  EXPECT_THAT(Fields(DecideRemoveTeam(Team(), team, org_.Lookup()).status()),
              ElementsAre("name", "reason"));
  crm::v1::RemoveDepartmentRequest department;
  department.set_name("departments/sales");
  department.set_etag("v9");
  EXPECT_EQ(
      DecideRemoveDepartment(org_.departments["sales"], department, org_.Lookup()).status().code(),
      absl::StatusCode::kAborted);
}

// ---------------------------------------------------------------------------------------------
// Apply.

TEST_F(OrgAggregateTest, ApplyRequiresTheNextVersion) {
  Event event;
  event.mutable_staff_updated()->add_changed_paths("display_name");
  event.mutable_staff_updated()->mutable_staff()->set_display_name("X");
  Staff ann = org_.staff["ann"];
  absl::Status s = ApplyStaff(ann, Stamped(event, "staff/ann", 3, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(s), "VERSION_MISMATCH");
  s = ApplyStaff(ann, Stamped(event, "staff/ann", 1, 1));
  EXPECT_EQ(Reason(s), "VERSION_MISMATCH");
  EXPECT_TRUE(ApplyStaff(ann, Stamped(event, "staff/ann", 2, 1)).ok());
  EXPECT_EQ(ann.display_name(), "X");
}

TEST_F(OrgAggregateTest, ApplyRejectsMismatchedOrMisorderedEvents) {
  Event update;
  update.mutable_staff_updated()->add_changed_paths("display_name");
  Staff fresh;
  EXPECT_EQ(Reason(ApplyStaff(fresh, Stamped(update, "staff/x", 1, 1))), "EVENT_OUT_OF_ORDER");

  Event added;
  added.mutable_staff_added()->mutable_staff()->set_display_name("X");
  Staff ann = org_.staff["ann"];
  EXPECT_EQ(Reason(ApplyStaff(ann, Stamped(added, "staff/ann", 2, 1))), "EVENT_OUT_OF_ORDER");
  EXPECT_EQ(Reason(ApplyStaff(ann, Stamped(update, "staff/bob", 2, 1))), "AGGREGATE_MISMATCH");
  EXPECT_EQ(Reason(ApplyStaff(fresh, Stamped(added, "teams/x", 1, 1))), "AGGREGATE_MISMATCH");

  Event team;
  team.mutable_team_created();
  EXPECT_EQ(Reason(ApplyStaff(fresh, Stamped(team, "staff/x", 1, 1))), "EVENT_OF_ANOTHER_KIND");

  Event empty;
  EXPECT_EQ(ApplyStaff(fresh, Stamped(empty, "staff/x", 1, 1)).code(), absl::StatusCode::kDataLoss);
}

TEST_F(OrgAggregateTest, ApplySkipsPathsItDoesNotKnow) {
  Event event;
  auto* updated = event.mutable_department_updated();
  updated->add_changed_paths("display_name");
  updated->add_changed_paths("version");  // not an updatable path: ignored
  updated->mutable_department()->set_display_name("New");
  Department sales = org_.departments["sales"];
  ASSERT_TRUE(ApplyDepartment(sales, Stamped(event, "departments/sales", 2, 5)).ok());
  EXPECT_EQ(sales.display_name(), "New");
  EXPECT_EQ(sales.version(), 2);
}

TEST(OrgEventsTest, KindsByPayload) {
  Event e;
  e.mutable_department_updated();
  EXPECT_TRUE(IsDepartmentEvent(e));
  EXPECT_TRUE(IsOrgEvent(e));
  EXPECT_FALSE(IsStaffEvent(e));
  e.mutable_team_created();
  EXPECT_TRUE(IsTeamEvent(e));
  e.mutable_staff_deactivated();
  EXPECT_TRUE(IsStaffEvent(e));
  e.mutable_owner_assigned();
  EXPECT_FALSE(IsOrgEvent(e));
}

}  // namespace
}  // namespace crm::domain::org
