#include "projections/org/org_view_fold.h"

#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/org/event_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "readmodel/org/org_views.h"

namespace crm::projections::org {
namespace {

using crm::events::v1::EventEnvelope;
using readmodel::org::OrgViews;
using ::testing::ElementsAre;

constexpr int64_t kT0 = 1'800'000'000;  // seconds; "now" in these tests is around here

google::protobuf::Timestamp Ts(int64_t seconds) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  return ts;
}

absl::Time At(int64_t seconds) { return absl::FromUnixSeconds(seconds); }

std::map<std::string, std::string> Dump(const kv::KvStore& store, absl::string_view prefix = "") {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(store
                  .ScanPrefix(prefix, "", 0,
                              [&](absl::string_view k, absl::string_view v) {
                                out.emplace(std::string(k), std::string(v));
                                return true;
                              })
                  .ok());
  return out;
}

std::vector<std::string> Names(const auto& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.name());
  return out;
}

// Builds a log of events with per-aggregate versions, as the executor would stamp them.
class History {
 public:
  EventEnvelope Org(const std::string& aggregate, EventEnvelope e) {
    return Stamp(aggregate, "", "org", e);
  }
  EventEnvelope Customer(const std::string& customer_id, EventEnvelope e) {
    return Stamp("customers/" + customer_id, customer_id, customer_id, e);
  }
  EventEnvelope Complaint(const std::string& customer_id, const std::string& id, EventEnvelope e) {
    return Stamp("customers/" + customer_id + "/complaints/" + id, customer_id, customer_id, e);
  }
  EventEnvelope Interaction(const std::string& customer_id, const std::string& id,
                            EventEnvelope e) {
    return Stamp("customers/" + customer_id + "/interactions/" + id, customer_id, customer_id, e);
  }

  std::vector<eventlog::LogRecord> records;

 private:
  EventEnvelope Stamp(const std::string& aggregate, const std::string& customer_id,
                      const std::string& key, EventEnvelope e) {
    e.set_event_id(base::NewUuid());
    e.set_aggregate(aggregate);
    e.set_customer_id(customer_id);
    e.set_aggregate_version(++versions_[aggregate]);
    *e.mutable_recorded_at() = Ts(kT0 - 100'000 + static_cast<int64_t>(records.size()));
    if (!e.has_occurred_at()) *e.mutable_occurred_at() = e.recorded_at();
    e.set_event_type("test");
    e.set_schema_version(1);
    eventlog::LogRecord record;
    record.position = {0, static_cast<int64_t>(records.size())};
    record.key = key;
    record.value = e.SerializeAsString();
    records.push_back(record);
    return e;
  }
  std::map<std::string, int64_t> versions_;
};

EventEnvelope DepartmentCreated(const std::string& id, crm::v1::DepartmentFunction function) {
  EventEnvelope e;
  auto* d = e.mutable_department_created()->mutable_department();
  d->set_name("departments/" + id);
  d->set_display_name(id);
  d->set_function(crm::domain::org::ToEvent(function));
  return e;
}

EventEnvelope TeamCreated(const std::string& id, const std::string& department) {
  EventEnvelope e;
  auto* t = e.mutable_team_created()->mutable_team();
  t->set_name("teams/" + id);
  t->set_display_name(id);
  t->set_department("departments/" + department);
  return e;
}

EventEnvelope StaffAdded(const std::string& id, crm::v1::StaffRole role,
                         const std::string& department, const std::string& team,
                         const std::string& manager) {
  EventEnvelope e;
  auto* s = e.mutable_staff_added()->mutable_staff();
  s->set_name("staff/" + id);
  s->set_display_name(id);
  s->set_role(crm::domain::org::ToEvent(role));
  s->set_level(crm::events::v1::FRONT_LINE);
  s->set_department("departments/" + department);
  if (!team.empty()) s->set_team("teams/" + team);
  s->set_manager(manager);
  s->set_active(true);
  return e;
}

EventEnvelope OwnerAssigned(const std::string& owner, const std::string& previous) {
  EventEnvelope e;
  e.mutable_owner_assigned()->set_owner(owner);
  e.mutable_owner_assigned()->set_previous_owner(previous);
  return e;
}

EventEnvelope Filed(int64_t response_due, int64_t resolution_due) {
  EventEnvelope e;
  auto* f = e.mutable_complaint_filed();
  f->set_severity(crm::events::v1::GENERAL);
  *f->mutable_response_due_time() = Ts(response_due);
  *f->mutable_resolution_due_time() = Ts(resolution_due);
  return e;
}

EventEnvelope Assigned(const std::string& staff_id, const std::string& previous = "") {
  EventEnvelope e;
  e.mutable_complaint_assigned()->mutable_assignee()->set_staff_id(staff_id);
  e.mutable_complaint_assigned()->set_previous_assignee(previous);
  return e;
}

EventEnvelope Acknowledged() {
  EventEnvelope e;
  e.mutable_complaint_acknowledged();
  return e;
}
EventEnvelope Resolved() {
  EventEnvelope e;
  e.mutable_complaint_resolved()->set_resolution("fixed");
  return e;
}
EventEnvelope Closed() {
  EventEnvelope e;
  e.mutable_complaint_closed();
  return e;
}
EventEnvelope Reopened(int64_t resolution_due) {
  EventEnvelope e;
  e.mutable_complaint_reopened()->set_reason("not satisfied");
  *e.mutable_complaint_reopened()->mutable_resolution_due_time() = Ts(resolution_due);
  return e;
}
EventEnvelope Breached(crm::events::v1::SlaKind kind, int64_t due) {
  EventEnvelope e;
  e.mutable_complaint_sla_breached()->set_kind(kind);
  *e.mutable_complaint_sla_breached()->mutable_due_time() = Ts(due);
  *e.mutable_occurred_at() = Ts(due);
  return e;
}
EventEnvelope Logged(const std::string& staff_id, std::optional<int64_t> follow_up_due) {
  EventEnvelope e;
  auto* l = e.mutable_interaction_logged();
  l->mutable_interaction()->set_staff_id(staff_id);
  l->mutable_interaction()->set_summary("call");
  if (follow_up_due.has_value()) {
    *l->mutable_interaction()->mutable_follow_up_due_time() = Ts(*follow_up_due);
  }
  l->mutable_staff()->set_staff_id(staff_id);
  return e;
}
EventEnvelope FollowUpDone() {
  EventEnvelope e;
  *e.mutable_follow_up_completed()->mutable_complete_time() = Ts(kT0 - 10);
  return e;
}

EventEnvelope FiledBy(crm::events::v1::ComplaintSeverity severity, crm::events::v1::ValueTier tier,
                      int64_t response_due, int64_t resolution_due) {
  EventEnvelope e = Filed(response_due, resolution_due);
  e.mutable_complaint_filed()->set_severity(severity);
  e.mutable_complaint_filed()->set_customer_tier(tier);
  return e;
}
EventEnvelope Escalated(const std::string& to) {
  EventEnvelope e;
  e.mutable_complaint_escalated()->set_level(1);
  e.mutable_complaint_escalated()->mutable_to()->set_staff_id(to);
  return e;
}
EventEnvelope LoggedFor(const std::string& staff_id, int64_t follow_up_due,
                        crm::events::v1::ValueTier tier) {
  EventEnvelope e = Logged(staff_id, follow_up_due);
  e.mutable_interaction_logged()->set_customer_tier(tier);
  return e;
}

class OrgViewFoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("org-views-" + base::NewUuid());
    store_ = *kv::KvStore::Open((root_ / "views").string());
    views_ = std::make_unique<OrgViews>(store_.get());
  }
  void TearDown() override {
    views_.reset();
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  // Applies the records not yet applied, one batch each.
  void ApplyNew() {
    for (; applied_ < h_.records.size(); ++applied_) ApplyRecord(h_.records[applied_]);
  }
  void ApplyRecord(const eventlog::LogRecord& record) {
    kv::KvBatch batch = store_->NewBatch();
    absl::Status s = fold_.Apply(record, batch);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(store_->Write(batch).ok());
  }

  crm::v1::Workload WorkloadOf(const std::string& staff_id, absl::Time now) {
    auto all = views_->Workloads(now);
    EXPECT_TRUE(all.ok()) << all.status();
    auto it = all->find(staff_id);
    return it == all->end() ? crm::v1::Workload() : it->second;
  }

  void BuildOrg() {
    h_.Org("departments/sales", DepartmentCreated("sales", crm::v1::SALES));
    h_.Org("departments/cs", DepartmentCreated("cs", crm::v1::CUSTOMER_SERVICE));
    h_.Org("teams/north", TeamCreated("north", "sales"));
    h_.Org("teams/desk", TeamCreated("desk", "cs"));
    h_.Org("staff/boss", StaffAdded("boss", crm::v1::MANAGER, "sales", "", ""));
    h_.Org("staff/ann", StaffAdded("ann", crm::v1::ACCOUNT_MANAGER, "sales", "north", "boss"));
    h_.Org("staff/bob", StaffAdded("bob", crm::v1::ACCOUNT_MANAGER, "sales", "north", "boss"));
    h_.Org("staff/cat", StaffAdded("cat", crm::v1::SERVICE_AGENT, "cs", "desk", "boss"));
  }

  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  std::unique_ptr<OrgViews> views_;
  OrgViewFold fold_;
  History h_;
  size_t applied_ = 0;
};

TEST_F(OrgViewFoldTest, RecordsAndListIndexes) {
  BuildOrg();
  EventEnvelope moved;
  moved.mutable_staff_updated()->add_changed_paths("team");
  moved.mutable_staff_updated()->add_changed_paths("role");
  moved.mutable_staff_updated()->mutable_staff()->set_role(crm::events::v1::SUPERVISOR);
  h_.Org("staff/bob", moved);  // bob leaves his team and becomes a supervisor
  EventEnvelope gone;
  gone.mutable_staff_deactivated()->set_reason("left");
  h_.Org("staff/ann", gone);
  ApplyNew();

  auto ann = views_->GetStaff("ann");
  ASSERT_TRUE(ann.ok() && ann->has_value());
  EXPECT_FALSE((*ann)->active());
  EXPECT_EQ((*ann)->version(), 2);
  EXPECT_EQ((*ann)->etag(), "v2");
  auto sales = views_->GetDepartment("sales");
  ASSERT_TRUE(sales.ok() && sales->has_value());
  EXPECT_EQ((*sales)->function(), crm::v1::SALES);
  EXPECT_FALSE(views_->GetTeam("nope")->has_value());

  auto by_function = views_->ListDepartments(crm::v1::CUSTOMER_SERVICE, "", 10);
  EXPECT_THAT(Names(by_function->items), ElementsAre("departments/cs"));
  auto teams = views_->ListTeams("departments/sales", "", 10);
  EXPECT_THAT(Names(teams->items), ElementsAre("teams/north"));

  OrgViews::StaffFilter in_north{.team = "teams/north"};
  EXPECT_THAT(Names(views_->ListStaff(in_north, "", 10)->items), ElementsAre("staff/ann"));
  OrgViews::StaffFilter active_sales{.department = "departments/sales", .active = true};
  EXPECT_THAT(Names(views_->ListStaff(active_sales, "", 10)->items),
              ElementsAre("staff/bob", "staff/boss"));
  OrgViews::StaffFilter supervisors{.role = crm::v1::SUPERVISOR};
  EXPECT_THAT(Names(views_->ListStaff(supervisors, "", 10)->items), ElementsAre("staff/bob"));
  OrgViews::StaffFilter reports{.manager = "boss"};
  auto first = views_->ListStaff(reports, "", 2);
  EXPECT_THAT(Names(first->items), ElementsAre("staff/ann", "staff/bob"));
  EXPECT_TRUE(first->more);
  auto second = views_->ListStaff(reports, "bob", 2);
  EXPECT_THAT(Names(second->items), ElementsAre("staff/cat"));
  EXPECT_FALSE(second->more);
  OrgViews::StaffFilter inactive{.active = false};
  EXPECT_THAT(Names(views_->ListStaff(inactive, "", 10)->items), ElementsAre("staff/ann"));
}

TEST_F(OrgViewFoldTest, ImprovementActionsAndTheirListIndexes) {
  BuildOrg();
  auto raised = [](const std::string& id, crm::events::v1::RootCause cause,
                   const std::string& owner) {
    EventEnvelope e;
    auto* plan = e.mutable_improvement_action_raised()->mutable_action();
    plan->set_name("improvementActions/" + id);
    plan->set_title("Fix " + id);
    plan->set_root_cause(cause);
    plan->set_owner(owner);
    plan->add_complaints("customers/acme/complaints/c1");
    return e;
  };
  h_.Org("improvementActions/a1", raised("a1", crm::events::v1::DELIVERY_DELAY, "ann"));
  h_.Org("improvementActions/a2", raised("a2", crm::events::v1::BILLING_ERROR, "bob"));
  h_.Org("improvementActions/a3", raised("a3", crm::events::v1::DELIVERY_DELAY, "bob"));
  EventEnvelope linked;
  linked.mutable_improvement_action_complaints_linked()->add_complaints(
      "customers/zeta/complaints/c9");
  h_.Org("improvementActions/a1", linked);
  EventEnvelope done;
  done.mutable_improvement_action_completed()->set_outcome("Second courier");
  h_.Org("improvementActions/a1", done);
  EventEnvelope cancelled;
  cancelled.mutable_improvement_action_cancelled()->set_reason("moot");
  h_.Org("improvementActions/a2", cancelled);
  ApplyNew();

  auto a1 = views_->GetImprovementAction("a1");
  ASSERT_TRUE(a1.ok() && a1->has_value());
  EXPECT_EQ((*a1)->state(), crm::v1::IMPROVEMENT_DONE);
  EXPECT_EQ((*a1)->etag(), "v3");
  EXPECT_THAT((*a1)->complaints(),
              ElementsAre("customers/acme/complaints/c1", "customers/zeta/complaints/c9"));
  using Filter = OrgViews::ActionFilter;
  auto names = [&](const Filter& f) {
    return Names(views_->ListImprovementActions(f, "", 10)->items);
  };
  EXPECT_THAT(names(Filter{}), ElementsAre("improvementActions/a1", "improvementActions/a2",
                                           "improvementActions/a3"));
  EXPECT_THAT(names(Filter{.state = crm::v1::IMPROVEMENT_OPEN}),
              ElementsAre("improvementActions/a3"));
  EXPECT_THAT(names(Filter{.state = crm::v1::IMPROVEMENT_DONE}),
              ElementsAre("improvementActions/a1"));
  EXPECT_THAT(names(Filter{.root_cause = crm::v1::DELIVERY_DELAY}),
              ElementsAre("improvementActions/a1", "improvementActions/a3"));
  EXPECT_THAT(names(Filter{.root_cause = crm::v1::DELIVERY_DELAY, .owner = "bob"}),
              ElementsAre("improvementActions/a3"));
  auto first = views_->ListImprovementActions(Filter{}, "", 2);
  EXPECT_TRUE(first->more);
  EXPECT_THAT(Names(views_->ListImprovementActions(Filter{}, "a2", 2)->items),
              ElementsAre("improvementActions/a3"));

  // Re-applying every record changes nothing.
  const auto before = Dump(*store_);
  for (const auto& r : h_.records) ApplyRecord(r);
  EXPECT_EQ(Dump(*store_), before);
}

TEST_F(OrgViewFoldTest, CustomersOwnedFollowOwnerAssigned) {
  h_.Customer("c1", OwnerAssigned("ann", ""));
  h_.Customer("c2", OwnerAssigned("ann", ""));
  h_.Customer("c3", OwnerAssigned("bob", ""));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("ann", At(kT0)).customers_owned(), 2);
  EXPECT_EQ(WorkloadOf("bob", At(kT0)).customers_owned(), 1);

  h_.Customer("c1", OwnerAssigned("bob", "ann"));
  h_.Customer("c3", OwnerAssigned("bob", "bob"));  // same owner (team change): no move
  ApplyNew();
  EXPECT_EQ(WorkloadOf("ann", At(kT0)).customers_owned(), 1);
  EXPECT_EQ(WorkloadOf("bob", At(kT0)).customers_owned(), 2);

  h_.Customer("c2", OwnerAssigned("bob", "ann"));
  ApplyNew();
  EXPECT_EQ(Dump(*store_, "og/w/ann").size(), 0u);  // back to zero: entry removed
  EXPECT_EQ(WorkloadOf("bob", At(kT0)).customers_owned(), 3);
}

TEST_F(OrgViewFoldTest, UnassignedCustomersLeaveTheirOwnersWorkload) {
  h_.Customer("c1", OwnerAssigned("ann", ""));
  h_.Customer("c2", OwnerAssigned("ann", ""));
  EventEnvelope cleared;
  cleared.mutable_owner_unassigned()->set_previous_owner("ann");
  h_.Customer("c1", cleared);
  ApplyNew();
  EXPECT_EQ(WorkloadOf("ann", At(kT0)).customers_owned(), 1);
  h_.Customer("c1", OwnerAssigned("bob", ""));
  h_.Customer("c2", cleared);
  ApplyNew();
  EXPECT_EQ(WorkloadOf("ann", At(kT0)).customers_owned(), 0);
  EXPECT_EQ(WorkloadOf("bob", At(kT0)).customers_owned(), 1);
  // Re-applied: nothing moves.
  ApplyRecord(h_.records.back());
  EXPECT_EQ(WorkloadOf("bob", At(kT0)).customers_owned(), 1);
}

TEST_F(OrgViewFoldTest, AMergedCustomerLeavesItsOwnersWorkload) {
  h_.Customer("c1", OwnerAssigned("ann", ""));
  h_.Customer("c2", OwnerAssigned("ann", ""));
  EventEnvelope into;
  into.mutable_customer_merged_into()->set_survivor_id("c2");
  h_.Customer("c1", into);
  ApplyNew();
  EXPECT_EQ(WorkloadOf("ann", At(kT0)).customers_owned(), 1);
  ApplyRecord(h_.records.back());  // re-applied: nothing moves
  EXPECT_EQ(WorkloadOf("ann", At(kT0)).customers_owned(), 1);
}

TEST_F(OrgViewFoldTest, RemovedTeamsAndDepartmentsLeaveTheViews) {
  BuildOrg();
  EventEnvelope gone;
  gone.mutable_staff_deactivated();
  h_.Org("staff/cat", gone);
  EventEnvelope team_removed;
  team_removed.mutable_team_removed()->set_reason("merged");
  h_.Org("teams/desk", team_removed);
  EventEnvelope department_removed;
  department_removed.mutable_department_removed();
  h_.Org("departments/cs", department_removed);
  EventEnvelope back;
  back.mutable_staff_reactivated();
  h_.Org("staff/cat", back);
  ApplyNew();
  EXPECT_FALSE(views_->GetTeam("desk")->has_value());
  EXPECT_FALSE(views_->GetDepartment("cs")->has_value());
  EXPECT_THAT(Names(views_->ListTeams("", "", 10)->items), ElementsAre("teams/north"));
  EXPECT_THAT(Names(views_->ListTeams("departments/cs", "", 10)->items), ElementsAre());
  EXPECT_THAT(
      Names(views_->ListDepartments(crm::v1::DEPARTMENT_FUNCTION_UNSPECIFIED, "", 10)->items),
      ElementsAre("departments/sales"));
  EXPECT_THAT(Names(views_->ListDepartments(crm::v1::CUSTOMER_SERVICE, "", 10)->items),
              ElementsAre());
  EXPECT_EQ(views_->AllTeams()->size(), 1u);
  EXPECT_EQ(views_->AllDepartments()->size(), 1u);
  EXPECT_TRUE((*views_->GetStaff("cat"))->active());
  // Re-applying the removal changes nothing.
  ApplyRecord(h_.records[h_.records.size() - 2]);
  EXPECT_FALSE(views_->GetDepartment("cs")->has_value());
}

TEST_F(OrgViewFoldTest, OpenComplaintsFollowAssignmentsClosuresAndReopens) {
  h_.Complaint("c1", "k1", Filed(kT0 + 3600, kT0 + 7200));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("", At(kT0)).open_complaints(), 1);  // unassigned

  h_.Complaint("c1", "k1", Assigned("cat"));
  h_.Complaint("c2", "k2", Filed(kT0 + 3600, kT0 + 7200));
  h_.Complaint("c2", "k2", Assigned("cat"));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("", At(kT0)).open_complaints(), 0);
  EXPECT_EQ(WorkloadOf("cat", At(kT0)).open_complaints(), 2);

  h_.Complaint("c2", "k2", Assigned("dan", "cat"));  // reassigned
  h_.Complaint("c1", "k1", Resolved());              // resolved still counts until closed
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0)).open_complaints(), 1);
  EXPECT_EQ(WorkloadOf("dan", At(kT0)).open_complaints(), 1);

  h_.Complaint("c1", "k1", Closed());
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0)).open_complaints(), 0);

  h_.Complaint("c1", "k1", Reopened(kT0 + 9000));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0)).open_complaints(), 1);
}

TEST_F(OrgViewFoldTest, OverdueComplaints) {
  // k1: response due at T0+100, resolution at T0+1000.
  h_.Complaint("c1", "k1", Filed(kT0 + 100, kT0 + 1000));
  h_.Complaint("c1", "k1", Assigned("cat"));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0)).overdue_complaints(), 0);
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 100)).overdue_complaints(), 0);  // due == now: not yet
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 101)).overdue_complaints(), 1);

  // Acknowledged: the response deadline is met; the resolution one is next.
  h_.Complaint("c1", "k1", Acknowledged());
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 500)).overdue_complaints(), 0);
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 1001)).overdue_complaints(), 1);
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 1001)).overdue_items(), 1);

  // A recorded breach is overdue whatever the clock says, until resolved.
  h_.Complaint("c1", "k1", Breached(crm::events::v1::RESOLUTION, kT0 + 1000));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0 - 5000)).overdue_complaints(), 1);
  h_.Complaint("c1", "k1", Resolved());
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 5000)).overdue_complaints(), 0);
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 5000)).open_complaints(), 1);

  // Reopened: a new round with a new resolution deadline; the old breach is settled.
  h_.Complaint("c1", "k1", Closed());
  h_.Complaint("c1", "k1", Reopened(kT0 + 8000));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 7000)).overdue_complaints(), 0);
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 8001)).overdue_complaints(), 1);

  // A late breach of the deadline the reopening replaced changes nothing.
  h_.Complaint("c1", "k1", Breached(crm::events::v1::RESOLUTION, kT0 + 1000));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("cat", At(kT0 + 7000)).overdue_complaints(), 0);

  // A response breach keeps it overdue after the acknowledgement, until resolved.
  h_.Complaint("c2", "k2", Filed(kT0 + 100, kT0 + 1000));
  h_.Complaint("c2", "k2", Breached(crm::events::v1::RESPONSE, kT0 + 100));
  h_.Complaint("c2", "k2", Acknowledged());
  ApplyNew();
  EXPECT_EQ(WorkloadOf("", At(kT0)).overdue_complaints(), 1);  // unassigned

  // Reassigning moves the overdue item too.
  h_.Complaint("c2", "k2", Assigned("dan"));
  ApplyNew();
  EXPECT_EQ(WorkloadOf("", At(kT0)).overdue_complaints(), 0);
  EXPECT_EQ(WorkloadOf("dan", At(kT0)).overdue_complaints(), 1);
}

TEST_F(OrgViewFoldTest, OverdueFollowUps) {
  h_.Interaction("c1", "i1", Logged("ann", kT0 - 60));
  h_.Interaction("c1", "i2", Logged("ann", kT0 + 60));
  h_.Interaction("c1", "i3", Logged("ann", std::nullopt));  // no follow-up: never overdue
  ApplyNew();
  crm::v1::Workload w = WorkloadOf("ann", At(kT0));
  EXPECT_EQ(w.overdue_follow_ups(), 1);
  EXPECT_EQ(w.overdue_items(), 1);
  EXPECT_EQ(WorkloadOf("ann", At(kT0 + 61)).overdue_follow_ups(), 2);
  // Every interaction is kept as the domain's Apply makes it (one reading of its events).
  EXPECT_EQ(Dump(*store_, "og/in/").size(), 3u);

  h_.Interaction("c1", "i1", FollowUpDone());
  ApplyNew();
  EXPECT_EQ(WorkloadOf("ann", At(kT0 + 61)).overdue_follow_ups(), 1);
}

// The queue as (resource, priority, due seconds or -1), in queue order.
struct QueueRow {
  std::string resource;
  int priority;
  int64_t due;
  bool operator==(const QueueRow&) const = default;
};
std::ostream& operator<<(std::ostream& os, const QueueRow& r) {
  return os << r.resource << "/p" << r.priority << "/" << r.due;
}

TEST_F(OrgViewFoldTest, WorkQueuesByPriorityThenDueAndTheyFollowTheWork) {
  using crm::events::v1::GENERAL;
  using crm::events::v1::HIGH_VALUE;
  using crm::events::v1::MINOR;
  using crm::events::v1::ORDINARY;
  using crm::events::v1::SEVERE;
  auto queue = [&](std::vector<std::string> staff, size_t page_size = 100,
                   const std::string& after = "") {
    auto page = views_->WorkQueue(staff, after, page_size);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<QueueRow> rows;
    for (const auto& item : page->items) {
      rows.push_back(
          {item.resource(), item.priority(), item.has_due_time() ? item.due_time().seconds() : -1});
    }
    return rows;
  };
  const std::string k1 = "customers/c1/complaints/k1", k2 = "customers/c2/complaints/k2",
                    k3 = "customers/c3/complaints/k3", k4 = "customers/c4/complaints/k4",
                    i1 = "customers/c1/interactions/i1", i2 = "customers/c2/interactions/i2";
  // k1: ordinary severe (2); k2: VIP general (2), due earlier; k3: VIP severe (1), due last;
  // k4: general from before tiers counted (3); i1: ordinary follow-up (4); i2: VIP follow-up (3).
  h_.Complaint("c1", "k1", FiledBy(SEVERE, ORDINARY, kT0 + 400, kT0 + 4000));
  h_.Complaint("c2", "k2", FiledBy(GENERAL, HIGH_VALUE, kT0 + 300, kT0 + 3000));
  h_.Complaint("c3", "k3", FiledBy(SEVERE, HIGH_VALUE, kT0 + 900, kT0 + 9000));
  h_.Complaint("c4", "k4",
               FiledBy(GENERAL, crm::events::v1::VALUE_TIER_UNSPECIFIED, kT0 + 10, kT0 + 20));
  ApplyNew();
  EXPECT_TRUE(Dump(*store_, "og/q/").empty());  // not assigned: nobody's queue yet
  for (const char* c : {"c1", "c2", "c3", "c4"}) {
    h_.Complaint(c, std::string("k") + std::string(c).substr(1), Assigned("cat"));
  }
  h_.Interaction("c1", "i1", LoggedFor("cat", kT0 + 50, ORDINARY));
  h_.Interaction("c2", "i2", LoggedFor("cat", kT0 + 60, HIGH_VALUE));
  ApplyNew();
  EXPECT_THAT(queue({"cat"}), ElementsAre(QueueRow{k3, 1, kT0 + 900}, QueueRow{k2, 2, kT0 + 300},
                                          QueueRow{k1, 2, kT0 + 400}, QueueRow{k4, 3, kT0 + 10},
                                          QueueRow{i2, 3, kT0 + 60}, QueueRow{i1, 4, kT0 + 50}));
  // Pages: strictly after the last position, none lost or repeated.
  auto first = views_->WorkQueue({"cat"}, "", 2);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->more);
  auto rest = views_->WorkQueue({"cat"}, first->last_position, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_FALSE(rest->more);
  EXPECT_EQ(first->items.size() + rest->items.size(), 6u);
  EXPECT_EQ(rest->items[0].resource(), k1);

  // Acknowledged: the response deadline is met; the resolution deadline is next.
  h_.Complaint("c1", "k1", Acknowledged());
  // Reassigned: leaves cat's queue for dan's. Escalated: in both the holder's and the target's.
  h_.Complaint("c2", "k2", Assigned("dan", "cat"));
  h_.Complaint("c3", "k3", Escalated("boss"));
  // Resolved: stays until closed, undated. Closed: gone. Follow-up done: gone.
  h_.Complaint("c4", "k4", Resolved());
  h_.Interaction("c2", "i2", FollowUpDone());
  ApplyNew();
  EXPECT_THAT(queue({"cat"}), ElementsAre(QueueRow{k3, 1, kT0 + 900}, QueueRow{k1, 2, kT0 + 4000},
                                          QueueRow{k4, 3, -1}, QueueRow{i1, 4, kT0 + 50}));
  EXPECT_THAT(queue({"dan"}), ElementsAre(QueueRow{k2, 2, kT0 + 300}));
  EXPECT_THAT(queue({"boss"}), ElementsAre(QueueRow{k3, 1, kT0 + 900}));
  // Merged (a team's queue): k3, held by cat and escalated to boss, is listed once.
  EXPECT_THAT(
      queue({"boss", "cat", "dan"}),
      ElementsAre(QueueRow{k3, 1, kT0 + 900}, QueueRow{k2, 2, kT0 + 300},
                  QueueRow{k1, 2, kT0 + 4000}, QueueRow{k4, 3, -1}, QueueRow{i1, 4, kT0 + 50}));
  auto page = views_->WorkQueue({"boss", "cat", "dan"}, "", 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u);
  EXPECT_TRUE(page->more);
  page = views_->WorkQueue({"boss", "cat", "dan"}, page->last_position, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].resource(), k2);
  EXPECT_EQ(page->items[0].kind(), crm::v1::WORK_ITEM_COMPLAINT);
  EXPECT_EQ(page->items[0].complaint().assignee().staff_id(), "dan");

  h_.Complaint("c4", "k4", Closed());
  h_.Complaint("c3", "k3", Resolved());
  ApplyNew();
  // A resolved complaint keeps its priority, undated.
  EXPECT_THAT(queue({"cat"}), ElementsAre(QueueRow{k3, 1, -1}, QueueRow{k1, 2, kT0 + 4000},
                                          QueueRow{i1, 4, kT0 + 50}));
  EXPECT_THAT(queue({"nobody"}), ElementsAre());
}

// Every record applied twice in a row (a redelivery) leaves the same store as once.
TEST_F(OrgViewFoldTest, ReapplyingARecordChangesNothing) {
  BuildOrg();
  h_.Customer("c1", OwnerAssigned("ann", ""));
  h_.Customer("c1", OwnerAssigned("bob", "ann"));
  h_.Complaint("c1", "k1", Filed(kT0 + 100, kT0 + 1000));
  h_.Complaint("c1", "k1", Assigned("cat"));
  h_.Complaint("c1", "k1", Breached(crm::events::v1::RESPONSE, kT0 + 100));
  h_.Complaint("c1", "k1", Assigned("bob", "cat"));
  h_.Complaint("c1", "k1", Escalated("boss"));
  h_.Complaint("c1", "k1", Resolved());
  h_.Complaint("c1", "k1", Closed());
  h_.Complaint("c1", "k1", Reopened(kT0 + 5000));
  h_.Complaint("c2", "k2",
               FiledBy(crm::events::v1::SEVERE, crm::events::v1::HIGH_VALUE, kT0, kT0 + 10));
  h_.Complaint("c2", "k2", Assigned("ann"));
  h_.Interaction("c1", "i1", Logged("ann", kT0 - 60));
  h_.Interaction("c1", "i1", FollowUpDone());
  h_.Interaction("c1", "i2", LoggedFor("ann", kT0 + 60, crm::events::v1::HIGH_VALUE));

  for (const auto& record : h_.records) ApplyRecord(record);
  const auto once = Dump(*store_);

  auto twice_store = *kv::KvStore::Open((root_ / "twice").string());
  for (const auto& record : h_.records) {
    for (int i = 0; i < 2; ++i) {
      kv::KvBatch batch = twice_store->NewBatch();
      ASSERT_TRUE(fold_.Apply(record, batch).ok());
      ASSERT_TRUE(twice_store->Write(batch).ok());
    }
  }
  EXPECT_EQ(Dump(*twice_store), once);
  // And replaying the whole history again changes nothing either.
  for (const auto& record : h_.records) ApplyRecord(record);
  EXPECT_EQ(Dump(*store_), once);

  EXPECT_EQ(WorkloadOf("bob", At(kT0)).customers_owned(), 1);
  EXPECT_EQ(WorkloadOf("bob", At(kT0)).open_complaints(), 1);
  EXPECT_EQ(WorkloadOf("ann", At(kT0)).customers_owned(), 0);
  // The reopened complaint is in its assignee's and its escalation target's queues.
  EXPECT_EQ(Dump(*store_, "og/q/").size(), 4u);
}

// A rebuild from position zero through the runner gives the same keys, all under og/.
TEST_F(OrgViewFoldTest, RebuildFromZeroIsIdentical) {
  eventlog::InMemoryEventLog log(4);
  BuildOrg();
  h_.Customer("c1", OwnerAssigned("ann", ""));
  h_.Complaint("c1", "k1", Filed(kT0 + 100, kT0 + 1000));
  h_.Complaint("c1", "k1", Assigned("cat"));
  h_.Interaction("c2", "i1", Logged("bob", kT0 - 60));
  EventEnvelope registered;
  registered.mutable_customer_registered()->mutable_profile()->set_display_name("X");
  h_.Customer("c9", registered);  // another area's event
  for (const auto& r : h_.records) {
    ASSERT_TRUE(log.Append(r.key, {{r.value, {}}}, absl::Now() + absl::Seconds(5)).ok());
  }
  auto fold_into = [&](const std::string& name) {
    auto store = *kv::KvStore::Open((root_ / name).string());
    OrgViewFold fold;
    fold::FoldRunner runner(&log, store.get(), &fold, {.name = name});
    EXPECT_TRUE(runner.CatchUp().ok());
    return store;
  };
  auto first = fold_into("first");
  auto second = fold_into("second");
  const auto a = Dump(*first, "og/");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, Dump(*second, "og/"));
  for (const auto& [key, value] : Dump(*first)) {
    EXPECT_TRUE(absl::StartsWith(key, "og/") ||
                absl::StartsWith(key, fold::FoldRunner::kReservedPrefix))
        << key;
  }
  EXPECT_EQ(Dump(*first, "og/co/c9").size(), 0u);
}

TEST_F(OrgViewFoldTest, OrgEventWithAVersionGapIsDataLoss) {
  h_.Org("departments/sales", DepartmentCreated("sales", crm::v1::SALES));
  ApplyNew();
  EventEnvelope update;
  update.mutable_department_updated()->add_changed_paths("display_name");
  update.set_aggregate("departments/sales");
  update.set_aggregate_version(3);
  eventlog::LogRecord record{.key = "org", .value = update.SerializeAsString()};
  kv::KvBatch batch = store_->NewBatch();
  EXPECT_EQ(fold_.Apply(record, batch).code(), absl::StatusCode::kDataLoss);

  record.value = "not a protobuf \xff\xff";
  EXPECT_EQ(fold_.Apply(record, batch).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace crm::projections::org
