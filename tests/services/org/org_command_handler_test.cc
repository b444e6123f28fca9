// The org command handler, StaffDirectory and the org queries over an in-memory log, real
// stores and live fold runners: commands through the shared CommandExecutor, views through
// OrgViewFold.
#include "services/org/org_command_handler.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/auth/grant.h"
#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/consistency_token.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "common/status/errors.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "projections/org/org_view_fold.h"
#include "services/command/aggregate_state.h"
#include "services/command/command_executor.h"
#include "services/org/org_command_service.h"
#include "services/org/org_kinds.h"
#include "services/org/org_query_service.h"
#include "services/org/staff_directory.h"

namespace crm::services::org {
namespace {

using crm::events::v1::EventEnvelope;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Reason(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  crm::status::GetDetail(status, &info);
  return info.reason();
}

std::vector<std::string> Fields(const absl::Status& status) {
  google::rpc::BadRequest bad_request;
  std::vector<std::string> fields;
  if (crm::status::GetDetail(status, &bad_request)) {
    for (const auto& fv : bad_request.field_violations()) fields.push_back(fv.field());
  }
  return fields;
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

class OrgCommandHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("org-cmd-" + base::NewUuid());
    state_store_ = *kv::KvStore::Open((root_ / "state").string());
    views_store_ = *kv::KvStore::Open((root_ / "views").string());
    state_runner_ = std::make_unique<fold::FoldRunner>(&log_, state_store_.get(), &state_fold_,
                                                       fold::FoldRunner::Options{.name = "state"});
    views_runner_ = std::make_unique<fold::FoldRunner>(&log_, views_store_.get(), &views_fold_,
                                                       fold::FoldRunner::Options{.name = "views"});
    ASSERT_TRUE(state_runner_->Start().ok());
    ASSERT_TRUE(views_runner_->Start().ok());
    state_ = std::make_unique<command::AggregateState>(state_store_.get());
    executor_ = std::make_unique<command::CommandExecutor>(
        &log_, state_runner_.get(), state_.get(), &clock_, command::CommandExecutor::Options{});
    handler_ = std::make_unique<OrgCommandHandler>(executor_.get());
    queries_ = std::make_unique<OrgQueries>(views_store_.get(), views_runner_.get(), &clock_,
                                            OrgQueries::Options{});
    call_.actor = "tester";
    call_.deadline = absl::Now() + absl::Seconds(30);
  }
  void TearDown() override {
    queries_.reset();
    handler_.reset();
    executor_.reset();
    views_runner_.reset();
    state_runner_.reset();
    views_store_.reset();
    state_store_.reset();
    std::filesystem::remove_all(root_);
  }

  absl::StatusOr<crm::v1::DepartmentCommandResponse> CreateDepartment(
      const std::string& id, crm::v1::DepartmentFunction function) {
    crm::v1::CreateDepartmentRequest request;
    request.set_department_id(id);
    request.set_request_id(base::NewUuid());
    request.mutable_department()->set_display_name(id);
    request.mutable_department()->set_function(function);
    return handler_->CreateDepartment(request, call_).Get();
  }

  absl::StatusOr<crm::v1::TeamCommandResponse> CreateTeam(const std::string& id,
                                                          const std::string& department) {
    crm::v1::CreateTeamRequest request;
    request.set_team_id(id);
    request.mutable_team()->set_display_name(id);
    request.mutable_team()->set_department("departments/" + department);
    return handler_->CreateTeam(request, call_).Get();
  }

  absl::StatusOr<crm::v1::StaffCommandResponse> AddStaff(const std::string& id,
                                                         crm::v1::StaffRole role,
                                                         const std::string& department,
                                                         const std::string& team,
                                                         const std::string& manager) {
    crm::v1::AddStaffRequest request;
    request.set_staff_id(id);
    request.mutable_staff()->set_display_name(id);
    request.mutable_staff()->set_role(role);
    request.mutable_staff()->set_level(crm::v1::FRONT_LINE);
    request.mutable_staff()->set_department("departments/" + department);
    if (!team.empty()) request.mutable_staff()->set_team("teams/" + team);
    request.mutable_staff()->set_manager(manager);
    return handler_->AddStaff(request, call_).Get();
  }

  // sales (team north: ann -> boss), cs (team desk: cat -> boss); boss is the manager.
  std::string BuildOrg() {
    EXPECT_TRUE(CreateDepartment("sales", crm::v1::SALES).ok());
    EXPECT_TRUE(CreateDepartment("cs", crm::v1::CUSTOMER_SERVICE).ok());
    EXPECT_TRUE(CreateTeam("north", "sales").ok());
    EXPECT_TRUE(CreateTeam("desk", "cs").ok());
    EXPECT_TRUE(AddStaff("boss", crm::v1::MANAGER, "sales", "", "").ok());
    EXPECT_TRUE(AddStaff("ann", crm::v1::ACCOUNT_MANAGER, "sales", "north", "boss").ok());
    auto last = AddStaff("cat", crm::v1::SERVICE_AGENT, "cs", "desk", "boss");
    EXPECT_TRUE(last.ok()) << last.status();
    return last.ok() ? last->consistency_token() : "";
  }

  std::vector<EventEnvelope> ReadAll() {
    std::vector<EventEnvelope> out;
    auto end = log_.EndOffset(0);
    auto reader = log_.NewReader({{0, 0}});
    while (static_cast<int64_t>(out.size()) < *end) {
      auto records = (*reader)->Poll(100, absl::Now() + absl::Seconds(5));
      if (!records.ok() || records->empty()) break;
      for (const auto& r : *records) {
        EventEnvelope e;
        EXPECT_TRUE(e.ParseFromString(r.value));
        out.push_back(e);
      }
    }
    return out;
  }

  // Appends an event of another area (or another replica) straight to the log.
  std::string AppendRaw(const std::string& key, EventEnvelope e) {
    e.set_event_id(base::NewUuid());
    e.set_event_type(command::EventTypeName(e));
    *e.mutable_recorded_at() = Ts(clock_.Now());
    *e.mutable_occurred_at() = e.recorded_at();
    auto position = log_.Append(key, {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(position.ok());
    return eventlog::EncodeConsistencyToken({{position->partition, position->offset}});
  }

  std::filesystem::path root_;
  base::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  eventlog::InMemoryEventLog log_;
  command::AggregateStateFold state_fold_{OrgKinds()};
  projections::org::OrgViewFold views_fold_;
  std::unique_ptr<kv::KvStore> state_store_;
  std::unique_ptr<kv::KvStore> views_store_;
  std::unique_ptr<fold::FoldRunner> state_runner_;
  std::unique_ptr<fold::FoldRunner> views_runner_;
  std::unique_ptr<command::AggregateState> state_;
  std::unique_ptr<command::CommandExecutor> executor_;
  std::unique_ptr<OrgCommandHandler> handler_;
  std::unique_ptr<OrgQueries> queries_;
  rpc::CallContext call_;
};

TEST_F(OrgCommandHandlerTest, CommandsAnswerWithTheNewStateOnTheOrgStream) {
  auto created = CreateDepartment("sales", crm::v1::SALES);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->department().name(), "departments/sales");
  EXPECT_EQ(created->department().version(), 1);
  EXPECT_EQ(created->department().etag(), "v1");
  EXPECT_EQ(created->department().create_time().seconds(), 1'800'000'000);
  EXPECT_EQ(created->appended_event_count(), 1);
  EXPECT_FALSE(created->consistency_token().empty());

  auto team = CreateTeam("north", "sales");
  ASSERT_TRUE(team.ok()) << team.status();
  auto ann = AddStaff("ann", crm::v1::ACCOUNT_MANAGER, "sales", "north", "");
  ASSERT_TRUE(ann.ok()) << ann.status();
  EXPECT_TRUE(ann->staff().active());

  const auto events = ReadAll();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].aggregate(), "departments/sales");
  EXPECT_EQ(events[0].event_type(), "crm.events.v1.DepartmentCreated");
  EXPECT_EQ(events[1].aggregate(), "teams/north");
  EXPECT_EQ(events[2].aggregate(), "staff/ann");
  EXPECT_EQ(events[2].event_type(), "crm.events.v1.StaffAdded");
  for (const auto& e : events) {
    EXPECT_EQ(e.customer_id(), "");
    EXPECT_EQ(e.aggregate_version(), 1);
    EXPECT_EQ(e.actor(), "tester");
  }
  EXPECT_EQ(log_.PartitionOf(command::kOrgStreamKey), 0);
}

// A newer writer appended an event of a type this build does not know to departments/sales. The
// command state and the view advance the department's version over it and count it; the next
// command on the department decides on version 2 and appends version 3 (no version gap).
TEST_F(OrgCommandHandlerTest, UnknownEventTypeKeepsTheVersionChain) {
  auto created = CreateDepartment("sales", crm::v1::SALES);
  ASSERT_TRUE(created.ok()) << created.status();

  EventEnvelope future;
  future.set_event_id(base::NewUuid());
  future.set_aggregate("departments/sales");
  future.set_aggregate_version(2);
  future.set_event_type("crm.events.v1.DepartmentMovedToTheFuture");
  future.set_schema_version(1);
  *future.mutable_recorded_at() = Ts(clock_.Now());
  // Its payload is a oneof field this build lacks: parsed, it is an unknown field.
  future.GetReflection()->MutableUnknownFields(&future)->AddLengthDelimited(199, "whatever");
  auto position = log_.Append(command::kOrgStreamKey, {{future.SerializeAsString(), {}}},
                              absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(position.ok()) << position.status();
  const eventlog::PositionMap at = {{position->partition, position->offset}};
  ASSERT_TRUE(state_runner_->WaitFor(at, absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(views_runner_->WaitFor(at, absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(state_fold_.unknown_records(), 1);
  EXPECT_EQ(views_fold_.unknown_records(), 1);
  EXPECT_EQ(state_runner_->dead_letters(), 0);
  EXPECT_EQ(views_runner_->dead_letters(), 0);
  EXPECT_EQ(state_runner_->Stats()[0].unknown_records, 1);

  crm::v1::UpdateDepartmentRequest update;
  update.mutable_department()->set_name("departments/sales");
  update.mutable_department()->set_display_name("Sales and more");
  update.set_etag("v2");
  auto updated = handler_->UpdateDepartment(update, call_).Get();
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->department().version(), 3);
  EXPECT_EQ(updated->department().display_name(), "Sales and more");
  EXPECT_EQ(ReadAll().back().aggregate_version(), 3);

  crm::v1::GetDepartmentRequest get;
  get.set_name("departments/sales");
  get.set_consistency_token(updated->consistency_token());
  auto view = queries_->GetDepartment(get, call_);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->version(), 3);
  EXPECT_EQ(view->display_name(), "Sales and more");
  EXPECT_EQ(views_runner_->dead_letters(), 0);
}

TEST_F(OrgCommandHandlerTest, UpdateAndDeactivate) {
  BuildOrg();
  crm::v1::UpdateStaffRequest update;
  update.mutable_staff()->set_name("staff/ann");
  update.mutable_staff()->set_role(crm::v1::SUPERVISOR);
  update.set_etag("v1");
  auto updated = handler_->UpdateStaff(update, call_).Get();
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->staff().role(), crm::v1::SUPERVISOR);
  EXPECT_EQ(updated->staff().etag(), "v2");
  EXPECT_EQ(updated->appended_event_count(), 1);

  // Same etag again: stale.
  auto stale = handler_->UpdateStaff(update, call_).Get();
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);

  // No change: no event, the same token.
  update.clear_etag();
  auto same = handler_->UpdateStaff(update, call_).Get();
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->appended_event_count(), 0);
  EXPECT_EQ(same->consistency_token(), updated->consistency_token());

  crm::v1::DeactivateStaffRequest deactivate;
  deactivate.set_name("staff/ann");
  deactivate.set_reason("left");
  auto gone = handler_->DeactivateStaff(deactivate, call_).Get();
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(gone->staff().active());

  crm::v1::UpdateDepartmentRequest head;
  head.mutable_department()->set_name("departments/sales");
  head.mutable_department()->set_head("ann");
  auto refused = handler_->UpdateDepartment(head, call_).Get();
  EXPECT_EQ(Reason(refused.status()), "STAFF_INACTIVE");
  head.mutable_department()->set_head("boss");
  auto headed = handler_->UpdateDepartment(head, call_).Get();
  ASSERT_TRUE(headed.ok()) << headed.status();
  EXPECT_EQ(headed->department().head(), "boss");
}

TEST_F(OrgCommandHandlerTest, RemoveAndReactivateOnTheCommandState) {
  BuildOrg();
  crm::v1::RemoveDepartmentRequest department;
  department.set_name("departments/cs");
  department.set_request_id("rm-cs");
  auto refused = handler_->RemoveDepartment(department, call_).Get();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(refused.status()), "DEPARTMENT_NOT_EMPTY");
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("teams/desk, staff/cat"));

  crm::v1::RemoveTeamRequest team;
  team.set_name("teams/desk");
  auto team_refused = handler_->RemoveTeam(team, call_).Get();
  EXPECT_EQ(Reason(team_refused.status()), "TEAM_NOT_EMPTY");

  crm::v1::DeactivateStaffRequest off;
  off.set_name("staff/cat");
  ASSERT_TRUE(handler_->DeactivateStaff(off, call_).Get().ok());
  team.set_request_id("rm-desk");
  auto removed = handler_->RemoveTeam(team, call_).Get();
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(removed->team().has_delete_time());
  EXPECT_EQ(removed->appended_event_count(), 1);
  // The same request id again: the first answer; a new one: the team is gone.
  auto retried = handler_->RemoveTeam(team, call_).Get();
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->consistency_token(), removed->consistency_token());
  team.set_request_id("rm-desk-2");
  EXPECT_EQ(handler_->RemoveTeam(team, call_).Get().status().code(), absl::StatusCode::kNotFound);

  auto done = handler_->RemoveDepartment(department, call_).Get();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->department().has_delete_time());

  // The views no longer show them.
  crm::v1::GetTeamRequest get_team;
  get_team.set_name("teams/desk");
  get_team.set_consistency_token(done->consistency_token());
  EXPECT_EQ(queries_->GetTeam(get_team, call_).status().code(), absl::StatusCode::kNotFound);
  crm::v1::ListDepartmentsRequest list;
  auto departments = queries_->ListDepartments(list, call_);
  ASSERT_TRUE(departments.ok());
  ASSERT_EQ(departments->departments_size(), 1);
  EXPECT_EQ(departments->departments(0).name(), "departments/sales");

  // Cat returns, to sales: her department was removed, so she needs a new place.
  crm::v1::ReactivateStaffRequest back;
  back.set_name("staff/cat");
  auto nowhere = handler_->ReactivateStaff(back, call_).Get();
  EXPECT_EQ(Reason(nowhere.status()), "DEPARTMENT_NOT_FOUND");
  back.set_department("departments/sales");
  back.set_team("teams/north");
  back.set_request_id("back-cat");
  auto returned = handler_->ReactivateStaff(back, call_).Get();
  ASSERT_TRUE(returned.ok()) << returned.status();
  EXPECT_TRUE(returned->staff().active());
  EXPECT_EQ(returned->staff().team(), "teams/north");
  EXPECT_EQ(returned->appended_event_count(), 2);
  back.set_request_id("back-cat-2");
  auto again = handler_->ReactivateStaff(back, call_).Get();
  EXPECT_EQ(Reason(again.status()), "STAFF_ACTIVE");
}

TEST_F(OrgCommandHandlerTest, RetriedRequestIdReturnsTheFirstAnswer) {
  crm::v1::CreateDepartmentRequest request;
  request.set_request_id("req-1");
  request.mutable_department()->set_display_name("Sales");
  request.mutable_department()->set_function(crm::v1::SALES);
  auto first = handler_->CreateDepartment(request, call_).Get();
  ASSERT_TRUE(first.ok()) << first.status();
  // No id given: derived from the request id, the same on every replica.
  EXPECT_EQ(first->department().name(), "departments/" + DepartmentIdFor(request));
  EXPECT_TRUE(base::IsUuid(DepartmentIdFor(request)));
  EXPECT_EQ(DepartmentIdFor(request), DepartmentIdFor(request));

  auto second = handler_->CreateDepartment(request, call_).Get();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->appended_event_count(), first->appended_event_count());
  EXPECT_EQ(second->department().name(), first->department().name());
  EXPECT_EQ(second->consistency_token(), first->consistency_token());
  EXPECT_EQ(ReadAll().size(), 1u);

  // Without a request id, each call gets a new UUID.
  crm::v1::AddStaffRequest anonymous;
  EXPECT_NE(StaffIdFor(anonymous), StaffIdFor(anonymous));
  anonymous.set_staff_id("given");
  EXPECT_EQ(StaffIdFor(anonymous), "given");
}

TEST_F(OrgCommandHandlerTest, RulesReadTheRestOfTheOrg) {
  BuildOrg();
  // A team of another department.
  auto wrong_team = AddStaff("dan", crm::v1::SERVICE_AGENT, "sales", "desk", "");
  EXPECT_EQ(Reason(wrong_team.status()), "TEAM_NOT_IN_DEPARTMENT");
  // An unknown manager.
  auto ghost = AddStaff("dan", crm::v1::SERVICE_AGENT, "cs", "desk", "ghost");
  EXPECT_EQ(ghost.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(ghost.status()), "STAFF_NOT_FOUND");

  // boss -> ann -> boss would be a cycle.
  crm::v1::UpdateStaffRequest cycle;
  cycle.mutable_staff()->set_name("staff/boss");
  cycle.mutable_staff()->set_manager("ann");
  auto refused = handler_->UpdateStaff(cycle, call_).Get();
  EXPECT_EQ(Reason(refused.status()), "REPORTING_CYCLE");

  // The team desk still has cat: it cannot move to sales.
  crm::v1::UpdateTeamRequest move;
  move.mutable_team()->set_name("teams/desk");
  move.mutable_team()->set_department("departments/sales");
  auto blocked = handler_->UpdateTeam(move, call_).Get();
  EXPECT_EQ(Reason(blocked.status()), "TEAM_HAS_MEMBERS");
  EXPECT_THAT(std::string(blocked.status().message()), HasSubstr("(cat)"));
  // Once cat leaves the team, it can.
  crm::v1::UpdateStaffRequest leave;
  leave.mutable_staff()->set_name("staff/cat");
  leave.mutable_update_mask()->add_paths("team");
  ASSERT_TRUE(handler_->UpdateStaff(leave, call_).Get().ok());
  auto moved = handler_->UpdateTeam(move, call_).Get();
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->team().department(), "departments/sales");
  auto members = ActiveTeamMembers(*state_, "north");
  ASSERT_TRUE(members.ok());
  EXPECT_THAT(*members, ElementsAre("ann"));
}

TEST_F(OrgCommandHandlerTest, MalformedNamesReportEveryBadField) {
  crm::v1::UpdateStaffRequest request;
  request.mutable_staff()->set_name("staff/Not Valid");
  request.mutable_update_mask()->add_paths("role");
  auto refused = handler_->UpdateStaff(request, call_).Get();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(refused.status()), ElementsAre("staff.name", "staff.role"));

  crm::v1::CreateTeamRequest team;
  team.set_team_id("-bad");
  auto bad_team = handler_->CreateTeam(team, call_).Get();
  EXPECT_THAT(Fields(bad_team.status()),
              ElementsAre("team_id", "team.display_name", "team.department"));
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(OrgCommandHandlerTest, StaffDirectoryFindsActiveStaff) {
  BuildOrg();
  StaffDirectory directory(executor_.get());
  auto ann = directory.Find("ann", "owner", call_.deadline);
  ASSERT_TRUE(ann.ok()) << ann.status();
  EXPECT_EQ(ann->role(), crm::v1::ACCOUNT_MANAGER);
  crm::v1::StaffRef ref = StaffDirectory::RefOf(*ann);
  EXPECT_EQ(ref.staff_id(), "ann");
  EXPECT_EQ(ref.team(), "teams/north");
  EXPECT_EQ(ref.department(), "departments/sales");

  auto ghost = directory.Find("ghost", "owner", call_.deadline);
  EXPECT_EQ(ghost.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(ghost.status()), "STAFF_NOT_FOUND");
  EXPECT_THAT(std::string(ghost.status().message()), HasSubstr("owner"));

  auto empty = directory.Find("", "assignee.staff_id", call_.deadline);
  EXPECT_THAT(Fields(empty.status()), ElementsAre("assignee.staff_id"));

  crm::v1::DeactivateStaffRequest deactivate;
  deactivate.set_name("staff/cat");
  ASSERT_TRUE(handler_->DeactivateStaff(deactivate, call_).Get().ok());
  auto cat = directory.Find("cat", "assignee.staff_id", call_.deadline);
  EXPECT_EQ(cat.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(cat.status()), "STAFF_INACTIVE");
}

TEST_F(OrgCommandHandlerTest, StaffDirectorySyncsTheOrgStreamOnAMiss) {
  BuildOrg();
  // Another replica added eve a moment ago: the event is in the log, maybe not yet in the state.
  EventEnvelope added;
  added.set_aggregate("staff/eve");
  added.set_aggregate_version(1);
  auto* eve = added.mutable_staff_added()->mutable_staff();
  eve->set_name("staff/eve");
  eve->set_role(crm::events::v1::CUSTOMER_REPRESENTATIVE);
  eve->set_department("departments/sales");
  AppendRaw(command::kOrgStreamKey, added);
  StaffDirectory directory(executor_.get());
  auto found = directory.Find("eve", "owner", call_.deadline);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->role(), crm::v1::CUSTOMER_REPRESENTATIVE);
}

TEST_F(OrgCommandHandlerTest, QueriesReadTheirWrites) {
  BuildOrg();
  crm::v1::UpdateStaffRequest rename;
  rename.mutable_staff()->set_name("staff/ann");
  rename.mutable_staff()->set_display_name("Ann Lee");
  auto renamed = handler_->UpdateStaff(rename, call_).Get();
  ASSERT_TRUE(renamed.ok());

  crm::v1::GetStaffRequest get;
  get.set_name("staff/ann");
  get.set_consistency_token(renamed->consistency_token());
  auto ann = queries_->GetStaff(get, call_);
  ASSERT_TRUE(ann.ok()) << ann.status();
  EXPECT_EQ(ann->display_name(), "Ann Lee");
  EXPECT_EQ(ann->etag(), "v2");

  get.set_name("staff/nobody");
  EXPECT_EQ(Reason(queries_->GetStaff(get, call_).status()), "STAFF_NOT_FOUND");
  get.set_name("nobody");
  EXPECT_THAT(Fields(queries_->GetStaff(get, call_).status()), ElementsAre("name"));

  crm::v1::GetDepartmentRequest department;
  department.set_name("departments/cs");
  EXPECT_EQ(queries_->GetDepartment(department, call_)->function(), crm::v1::CUSTOMER_SERVICE);
  crm::v1::GetTeamRequest team;
  team.set_name("teams/desk");
  EXPECT_EQ(queries_->GetTeam(team, call_)->department(), "departments/cs");
}

TEST_F(OrgCommandHandlerTest, ListsPageWithTokensBoundToTheirFilters) {
  const std::string token = BuildOrg();
  crm::v1::ListStaffRequest request;
  request.set_manager("boss");
  request.set_page_size(1);
  request.set_consistency_token(token);
  auto first = queries_->ListStaff(request, call_);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->staff_size(), 1);
  EXPECT_EQ(first->staff(0).name(), "staff/ann");
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  auto second = queries_->ListStaff(request, call_);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->staff_size(), 1);
  EXPECT_EQ(second->staff(0).name(), "staff/cat");
  EXPECT_TRUE(second->next_page_token().empty());

  request.set_role(crm::v1::SERVICE_AGENT);  // other filters: the token is refused
  EXPECT_THAT(Fields(queries_->ListStaff(request, call_).status()), ElementsAre("page_token"));

  crm::v1::ListStaffRequest active;
  active.set_active(true);
  active.set_department("departments/sales");
  auto sales = queries_->ListStaff(active, call_);
  ASSERT_EQ(sales->staff_size(), 2);
  EXPECT_EQ(sales->staff(0).name(), "staff/ann");

  crm::v1::ListDepartmentsRequest departments;
  departments.set_function(crm::v1::SALES);
  auto listed = queries_->ListDepartments(departments, call_);
  ASSERT_EQ(listed->departments_size(), 1);
  crm::v1::ListTeamsRequest teams;
  teams.set_department("departments/cs");
  ASSERT_EQ(queries_->ListTeams(teams, call_)->teams_size(), 1);
  teams.set_department("cs");
  EXPECT_THAT(Fields(queries_->ListTeams(teams, call_).status()), ElementsAre("department"));
}

TEST_F(OrgCommandHandlerTest, OrgChartShowsLiveWorkload) {
  BuildOrg();
  const absl::Time now = clock_.Now();
  EventEnvelope owner;
  owner.set_customer_id("c1");
  owner.set_aggregate("customers/c1");
  owner.set_aggregate_version(2);
  owner.mutable_owner_assigned()->set_owner("ann");
  AppendRaw("c1", owner);
  EventEnvelope filed;
  filed.set_customer_id("c1");
  filed.set_aggregate("customers/c1/complaints/k1");
  filed.set_aggregate_version(1);
  *filed.mutable_complaint_filed()->mutable_response_due_time() = Ts(now + absl::Hours(4));
  *filed.mutable_complaint_filed()->mutable_resolution_due_time() = Ts(now + absl::Hours(24));
  AppendRaw("c1", filed);
  EventEnvelope assigned = filed;
  assigned.clear_complaint_filed();
  assigned.set_aggregate_version(2);
  assigned.mutable_complaint_assigned()->mutable_assignee()->set_staff_id("cat");
  const std::string token = AppendRaw("c1", assigned);

  crm::v1::GetOrgChartRequest request;
  request.set_consistency_token(token);
  auto chart = queries_->GetOrgChart(request, call_);
  ASSERT_TRUE(chart.ok()) << chart.status();
  EXPECT_EQ(chart->as_of().seconds(), absl::ToUnixSeconds(now));
  ASSERT_EQ(chart->departments_size(), 2);
  EXPECT_EQ(chart->departments(0).department().name(), "departments/cs");
  EXPECT_EQ(chart->departments(0).workload().open_complaints(), 1);
  EXPECT_EQ(chart->departments(0).workload().overdue_items(), 0);
  EXPECT_EQ(chart->departments(1).teams(0).workload().customers_owned(), 1);
  EXPECT_EQ(chart->total().customers_owned(), 1);
  EXPECT_THAT(chart->dot(), HasSubstr("digraph org {"));
  EXPECT_THAT(chart->mermaid(), HasSubstr("flowchart TB"));

  // A day later, the complaint is overdue (its deadlines passed), with no event in between.
  clock_.Advance(absl::Hours(25));
  request.set_format(crm::v1::ORG_CHART_DATA);
  chart = queries_->GetOrgChart(request, call_);
  ASSERT_TRUE(chart.ok());
  EXPECT_EQ(chart->departments(0).workload().overdue_complaints(), 1);
  EXPECT_EQ(chart->total().overdue_items(), 1);
  EXPECT_TRUE(chart->dot().empty());

  request.set_format(crm::v1::ORG_CHART_MERMAID);
  request.set_department("departments/cs");
  chart = queries_->GetOrgChart(request, call_);
  ASSERT_TRUE(chart.ok());
  EXPECT_EQ(chart->departments_size(), 0);
  EXPECT_THAT(chart->mermaid(), HasSubstr("subgraph d_cs"));
  EXPECT_THAT(chart->mermaid(), ::testing::Not(HasSubstr("d_sales")));
  EXPECT_EQ(chart->total().overdue_items(), 1);

  request.set_department("departments/nope");
  EXPECT_EQ(queries_->GetOrgChart(request, call_).status().code(), absl::StatusCode::kNotFound);
}

// A grant that reaches one staff member's, one team's or one department's scope.
class ScopeGrant final : public auth::Grant {
 public:
  ScopeGrant(std::string staff_id, std::string team, std::string department)
      : staff_id_(std::move(staff_id)),
        team_(std::move(team)),
        department_(std::move(department)) {}
  bool everything() const override { return false; }
  bool Reaches(const std::vector<std::string>& holders) const override { return false; }
  bool ReachesScope(absl::string_view staff_id, absl::string_view team,
                    absl::string_view department) const override {
    return (!staff_id.empty() && staff_id == staff_id_) || (!team.empty() && team == team_) ||
           (!department.empty() && department == department_);
  }
  const std::string& staff_id() const override { return staff_id_; }

 private:
  const std::string staff_id_, team_, department_;
};

TEST_F(OrgCommandHandlerTest, WorkItemsOfAStaffMemberTeamAndDepartment) {
  BuildOrg();
  ASSERT_TRUE(AddStaff("dan", crm::v1::SERVICE_AGENT, "cs", "desk", "boss").ok());
  const absl::Time now = clock_.Now();
  // k1: ordinary general, assigned to cat, overdue; k2: VIP severe, assigned to dan; i1: ann's
  // follow-up.
  auto complaint = [&](const std::string& customer, const std::string& id, int64_t version,
                       EventEnvelope e) {
    e.set_customer_id(customer);
    e.set_aggregate("customers/" + customer + "/complaints/" + id);
    e.set_aggregate_version(version);
    return AppendRaw(customer, e);
  };
  EventEnvelope filed;
  filed.mutable_complaint_filed()->set_severity(crm::events::v1::GENERAL);
  *filed.mutable_complaint_filed()->mutable_response_due_time() = Ts(now - absl::Hours(1));
  *filed.mutable_complaint_filed()->mutable_resolution_due_time() = Ts(now + absl::Hours(24));
  complaint("c1", "k1", 1, filed);
  filed.mutable_complaint_filed()->set_severity(crm::events::v1::SEVERE);
  filed.mutable_complaint_filed()->set_customer_tier(crm::events::v1::HIGH_VALUE);
  *filed.mutable_complaint_filed()->mutable_response_due_time() = Ts(now + absl::Hours(2));
  complaint("c2", "k2", 1, filed);
  EventEnvelope assigned;
  assigned.mutable_complaint_assigned()->mutable_assignee()->set_staff_id("cat");
  complaint("c1", "k1", 2, assigned);
  assigned.mutable_complaint_assigned()->mutable_assignee()->set_staff_id("dan");
  complaint("c2", "k2", 2, assigned);
  EventEnvelope logged;
  logged.set_customer_id("c3");
  logged.set_aggregate("customers/c3/interactions/i1");
  logged.set_aggregate_version(1);
  logged.mutable_interaction_logged()->mutable_interaction()->set_staff_id("ann");
  logged.mutable_interaction_logged()->mutable_interaction()->set_summary("call");
  *logged.mutable_interaction_logged()->mutable_interaction()->mutable_follow_up_due_time() =
      Ts(now + absl::Hours(5));
  const std::string token = AppendRaw("c3", logged);

  auto list = [&](const std::string& parent, const std::string& page_token = "",
                  int page_size = 0) {
    crm::v1::ListWorkItemsRequest request;
    request.set_parent(parent);
    request.set_consistency_token(token);
    request.set_page_token(page_token);
    request.set_page_size(page_size);
    return queries_->ListWorkItems(request, call_);
  };
  auto resources = [](const crm::v1::ListWorkItemsResponse& r) {
    std::vector<std::string> out;
    for (const auto& i : r.work_items()) out.push_back(i.resource());
    return out;
  };
  auto cat = list("staff/cat");
  ASSERT_TRUE(cat.ok()) << cat.status();
  ASSERT_EQ(cat->work_items_size(), 1);
  EXPECT_EQ(cat->work_items(0).kind(), crm::v1::WORK_ITEM_COMPLAINT);
  EXPECT_EQ(cat->work_items(0).priority(), 3);
  EXPECT_TRUE(cat->work_items(0).overdue());
  EXPECT_EQ(cat->work_items(0).complaint().assignee().staff_id(), "cat");
  EXPECT_EQ(cat->now().seconds(), absl::ToUnixSeconds(now));

  auto desk = list("teams/desk");
  ASSERT_TRUE(desk.ok()) << desk.status();
  EXPECT_THAT(resources(*desk),
              ElementsAre("customers/c2/complaints/k2", "customers/c1/complaints/k1"));
  EXPECT_EQ(desk->work_items(0).priority(), 1);
  EXPECT_FALSE(desk->work_items(0).overdue());
  auto sales = list("departments/sales");
  ASSERT_TRUE(sales.ok()) << sales.status();
  ASSERT_THAT(resources(*sales), ElementsAre("customers/c3/interactions/i1"));
  EXPECT_EQ(sales->work_items(0).kind(), crm::v1::WORK_ITEM_FOLLOW_UP);
  EXPECT_EQ(sales->work_items(0).interaction().staff_id(), "ann");
  EXPECT_EQ(sales->work_items(0).priority(), 4);

  // Pages, with tokens bound to the parent.
  auto first = list("departments/cs", "", 1);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token().empty());
  auto second = list("departments/cs", first->next_page_token(), 1);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(resources(*second), ElementsAre("customers/c1/complaints/k1"));
  EXPECT_TRUE(second->next_page_token().empty());
  EXPECT_THAT(Fields(list("teams/desk", first->next_page_token()).status()),
              ElementsAre("page_token"));

  // Bad input.
  for (const char* bad : {"", "staff/", "teams/Bad Id", "customers/c1", "departments/a/b"}) {
    auto r = list(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(Fields(r.status()), ElementsAre("parent")) << bad;
  }
  EXPECT_THAT(Fields(list("staff/cat", "", -1).status()), ElementsAre("page_size"));
  EXPECT_EQ(list("teams/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(list("departments/nope").status()), "DEPARTMENT_NOT_FOUND");
  auto nobody = list("staff/nobody");
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->work_items_size(), 0);

  // Scopes: a caller reaching team desk sees its queue and its members', not another team's
  // or a department's; an unknown team is denied before NOT_FOUND.
  call_.grant = std::make_shared<ScopeGrant>("cat", "teams/desk", "");
  EXPECT_TRUE(list("teams/desk").ok());
  EXPECT_TRUE(list("staff/cat").ok());
  for (const char* denied : {"teams/north", "departments/cs", "staff/ann", "teams/nope"}) {
    auto r = list(denied);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << denied;
    EXPECT_EQ(Reason(r.status()), "ACCESS_DENIED") << denied;
  }
}

// The two gRPC front ends over an in-process server: raw request bytes in, answers and errors
// (with google.rpc details) on the wire.
class OrgGrpcTest : public OrgCommandHandlerTest {
 protected:
  void SetUp() override {
    OrgCommandHandlerTest::SetUp();
    command_service_ = std::make_unique<OrgCommandService>(handler_.get(), nullptr, &rpc_executor_);
    query_service_ = std::make_unique<OrgQueryService>(queries_.get(), &rpc_executor_);
    grpc::ServerBuilder builder;
    builder.RegisterService(command_service_.get());
    builder.RegisterService(query_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto channel = server_->InProcessChannel({});
    commands_ = crm::v1::OrgService::NewStub(channel);
    reads_ = crm::v1::OrgQueryService::NewStub(channel);
  }
  void TearDown() override {
    server_->Shutdown();
    rpc_executor_.Stop();
    OrgCommandHandlerTest::TearDown();
  }

  rpc::Executor rpc_executor_{2, 64};
  std::unique_ptr<OrgCommandService> command_service_;
  std::unique_ptr<OrgQueryService> query_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<crm::v1::OrgService::Stub> commands_;
  std::unique_ptr<crm::v1::OrgQueryService::Stub> reads_;
};

TEST_F(OrgGrpcTest, CommandsAndChartOverTheWire) {
  grpc::ClientContext create_ctx;
  crm::v1::CreateDepartmentRequest create;
  create.set_request_id("req-wire");
  create.mutable_department()->set_display_name("Sales");
  create.mutable_department()->set_function(crm::v1::SALES);
  crm::v1::DepartmentCommandResponse created;
  grpc::Status status = commands_->CreateDepartment(&create_ctx, create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The id was chosen from the request id before routing.
  EXPECT_EQ(created.department().name(), "departments/" + DepartmentIdFor(create));

  grpc::ClientContext add_ctx;
  crm::v1::AddStaffRequest add;
  add.set_staff_id("ann");
  add.mutable_staff()->set_display_name("Ann");
  add.mutable_staff()->set_role(crm::v1::ACCOUNT_MANAGER);
  add.mutable_staff()->set_level(crm::v1::FRONT_LINE);
  add.mutable_staff()->set_department(created.department().name());
  crm::v1::StaffCommandResponse added;
  status = commands_->AddStaff(&add_ctx, add, &added);
  ASSERT_TRUE(status.ok()) << status.error_message();

  grpc::ClientContext chart_ctx;
  crm::v1::GetOrgChartRequest chart_request;
  chart_request.set_consistency_token(added.consistency_token());
  chart_request.set_format(crm::v1::ORG_CHART_DOT);
  crm::v1::OrgChart chart;
  status = reads_->GetOrgChart(&chart_ctx, chart_request, &chart);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(chart.dot(), HasSubstr("\"staff/ann\" [label=\"Ann (ann)"));

  grpc::ClientContext list_ctx;
  crm::v1::ListStaffRequest list;
  list.set_department(created.department().name());
  crm::v1::ListStaffResponse listed;
  status = reads_->ListStaff(&list_ctx, list, &listed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(listed.staff_size(), 1);
}

TEST_F(OrgGrpcTest, BadRequestCarriesTheFieldOnTheWire) {
  grpc::ClientContext ctx;
  crm::v1::AddStaffRequest add;
  add.set_staff_id("ann");
  add.mutable_staff()->set_display_name("Ann");
  crm::v1::StaffCommandResponse response;
  grpc::Status status = commands_->AddStaff(&ctx, add, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  std::vector<std::string> fields;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) fields.push_back(v.field());
    }
  }
  EXPECT_THAT(fields, ElementsAre("staff.role", "staff.level", "staff.department"));

  grpc::ClientContext get_ctx;
  crm::v1::GetTeamRequest get;
  get.set_name("teams/ghost");
  crm::v1::Team team;
  EXPECT_EQ(reads_->GetTeam(&get_ctx, get, &team).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace crm::services::org
