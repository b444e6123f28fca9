#include "services/complaint/sla_watcher.h"

#include <string>
#include <thread>
#include <vector>

#include "common/base/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/services/complaint/complaint_test_env.h"

namespace crm::services::complaint {
namespace {

using crm::events::v1::EventEnvelope;
using testing::ComplaintEnv;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class SlaWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.RegisterCustomer("acme");
    env_.AddStaff("mgr-1", crm::v1::MANAGER);
    env_.AddStaff("sup-1", crm::v1::SUPERVISOR, "mgr-1");
    env_.AddStaff("agent-1", crm::v1::SERVICE_AGENT, "sup-1");
    t0_ = env_.clock_.Now();
  }

  std::unique_ptr<command::DeadlineWatcher> NewWatcher(
      std::function<bool(absl::string_view)> owns = nullptr,
      command::DeadlineWatcher::Options options = {}) {
    sources_.push_back(std::make_unique<SlaDeadlines>(env_.handler_.get()));
    return std::make_unique<command::DeadlineWatcher>(
        std::vector<const command::DeadlineSource*>{sources_.back().get()}, env_.store_.get(),
        &env_.clock_, std::move(owns), options);
  }

  std::string File(const std::string& id, crm::v1::ComplaintSeverity severity,
                   const std::string& customer = "acme") {
    crm::v1::FileComplaintRequest request;
    request.set_parent("customers/" + customer);
    request.set_complaint_id(id);
    request.set_request_id(base::NewUuid());
    request.mutable_complaint()->set_channel(crm::v1::PHONE);
    request.mutable_complaint()->set_category(crm::v1::LOGISTICS);
    request.mutable_complaint()->set_severity(severity);
    request.mutable_complaint()->set_description("late parcel");
    auto r = env_.handler_->File(request, call_).Get();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->complaint().name() : "";
  }
  template <typename Req>
  Req Named(const std::string& name) {
    Req request;
    request.set_name(name);
    request.set_request_id(base::NewUuid());
    return request;
  }
  void Acknowledge(const std::string& name) {
    ASSERT_TRUE(env_.handler_->Acknowledge(Named<crm::v1::AcknowledgeComplaintRequest>(name), call_)
                    .Get()
                    .ok());
  }
  void AssignAndInvestigate(const std::string& name, const std::string& assignee) {
    auto assign = Named<crm::v1::AssignComplaintRequest>(name);
    assign.set_assignee(assignee);
    auto r = env_.handler_->Assign(assign, call_).Get();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(
        env_.handler_->StartInvestigation(Named<crm::v1::StartInvestigationRequest>(name), call_)
            .Get()
            .ok());
  }
  // Resolve, a follow-up visit that finds the customer not satisfied, reopen.
  void ResolveVisitReopen(const std::string& name) {
    auto resolve = Named<crm::v1::ResolveComplaintRequest>(name);
    resolve.set_resolution("re-shipped");
    resolve.set_root_cause(crm::v1::DELIVERY_DELAY);
    auto r = env_.handler_->Resolve(resolve, call_).Get();
    ASSERT_TRUE(r.ok()) << r.status();
    auto visit = Named<crm::v1::RecordFollowUpVisitRequest>(name);
    visit.mutable_visit()->set_csat(1);
    ASSERT_TRUE(env_.handler_->RecordFollowUpVisit(visit, call_).Get().ok());
    ASSERT_TRUE(
        env_.handler_->Reopen(Named<crm::v1::ReopenComplaintRequest>(name), call_).Get().ok());
  }
  std::vector<EventEnvelope> Breaches(const std::string& name) {
    std::vector<EventEnvelope> out;
    for (auto& e : env_.EventsOf(name)) {
      if (e.has_complaint_sla_breached()) out.push_back(e);
    }
    return out;
  }
  std::vector<EventEnvelope> Escalations(const std::string& name) {
    std::vector<EventEnvelope> out;
    for (auto& e : env_.EventsOf(name)) {
      if (e.has_complaint_escalated()) out.push_back(e);
    }
    return out;
  }
  crm::v1::Complaint Current(const std::string& name) {
    auto v = env_.state_->Get<crm::v1::Complaint>(name);
    EXPECT_TRUE(v.ok());
    return v->state;
  }

  ComplaintEnv env_;
  // One per watcher, over the handler of the moment (a restart replaces the handler).
  std::vector<std::unique_ptr<SlaDeadlines>> sources_;
  rpc::CallContext call_;
  absl::Time t0_;
};

TEST_F(SlaWatcherTest, BreachIsAppendedOnceAtTheRightTime) {
  const std::string name = File("c1", crm::v1::SEVERE);  // response due t0 + 4h
  auto watcher = NewWatcher();

  ASSERT_TRUE(watcher->RunOnce().ok());
  env_.clock_.Set(t0_ + absl::Hours(4) - absl::Seconds(1));
  ASSERT_TRUE(watcher->RunOnce().ok());
  env_.clock_.Set(t0_ + absl::Hours(4));  // due, not yet passed
  ASSERT_TRUE(watcher->RunOnce().ok());
  EXPECT_THAT(Breaches(name), IsEmpty());

  env_.clock_.Set(t0_ + absl::Hours(4) + absl::Milliseconds(1));
  ASSERT_TRUE(watcher->RunOnce().ok());
  auto breaches = Breaches(name);
  ASSERT_THAT(breaches, SizeIs(1));
  const EventEnvelope& b = breaches[0];
  EXPECT_EQ(b.complaint_sla_breached().kind(), crm::events::v1::RESPONSE);
  EXPECT_EQ(ComplaintEnv::T(b.complaint_sla_breached().due_time()), t0_ + absl::Hours(4));
  EXPECT_EQ(ComplaintEnv::T(b.occurred_at()), t0_ + absl::Hours(4));
  EXPECT_EQ(ComplaintEnv::T(b.recorded_at()), env_.clock_.Now());
  EXPECT_EQ(b.actor(), "crm/sla-watcher");
  EXPECT_EQ(b.request_id(),
            SlaDeadlines::RequestIdFor(name, crm::v1::RESPONSE, t0_ + absl::Hours(4)));
  EXPECT_EQ(b.customer_id(), "acme");
  auto escalations = Escalations(name);
  ASSERT_THAT(escalations, SizeIs(1));
  EXPECT_TRUE(escalations[0].complaint_escalated().automatic());
  EXPECT_EQ(escalations[0].complaint_escalated().sla_kind(), crm::events::v1::RESPONSE);
  EXPECT_EQ(escalations[0].causation_id(), b.causation_id());
  EXPECT_EQ(escalations[0].aggregate_version(), b.aggregate_version() + 1);
  EXPECT_TRUE(Current(name).response_deadline().breached());

  // Not twice: another scan, later scans, a new watcher after a restart.
  ASSERT_TRUE(watcher->RunOnce().ok());
  env_.clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(watcher->RunOnce().ok());
  watcher.reset();
  env_.Restart();
  watcher = NewWatcher();
  ASSERT_TRUE(watcher->RunOnce().ok());
  EXPECT_THAT(Breaches(name), SizeIs(1));
  EXPECT_THAT(Escalations(name), SizeIs(1));
  // The response deadline is gone from the index; the resolution deadline is still open.
  auto index = env_.DeadlineIndex();
  ASSERT_THAT(index, SizeIs(1));
  EXPECT_EQ(index[0].kind, crm::v1::RESOLUTION);
}

// Reminders (SlaReminders with a lead) ride the same index: once per open deadline, at due -
// lead, to the assignee; none for a deadline met first; after them the breach still comes.
TEST_F(SlaWatcherTest, RemindersComeOnceAtTheLeadBeforeTheDeadline) {
  const std::string name = File("c1", crm::v1::SEVERE);  // response t0 + 4h, resolution t0 + 24h
  SlaDeadlines breaches(env_.handler_.get());
  SlaReminders reminders(env_.handler_.get(), absl::Hours(1));
  command::DeadlineWatcher watcher({&breaches, &reminders}, env_.store_.get(), &env_.clock_,
                                   nullptr, {});
  auto approaching = [&] {
    std::vector<EventEnvelope> out;
    for (auto& e : env_.EventsOf(name)) {
      if (e.has_complaint_deadline_approaching()) out.push_back(e);
    }
    return out;
  };
  env_.clock_.Set(t0_ + absl::Hours(3) - absl::Seconds(1));
  ASSERT_TRUE(watcher.RunOnce().ok());
  EXPECT_THAT(approaching(), IsEmpty());
  env_.clock_.Set(t0_ + absl::Hours(3));  // due - lead
  ASSERT_TRUE(watcher.RunOnce().ok());
  ASSERT_THAT(approaching(), SizeIs(1));
  const EventEnvelope r = approaching()[0];
  EXPECT_EQ(r.complaint_deadline_approaching().kind(), crm::events::v1::RESPONSE);
  EXPECT_EQ(ComplaintEnv::T(r.complaint_deadline_approaching().due_time()), t0_ + absl::Hours(4));
  EXPECT_EQ(ComplaintEnv::T(r.occurred_at()), t0_ + absl::Hours(3));
  EXPECT_EQ(r.request_id(),
            SlaReminders::RequestIdFor(name, crm::v1::RESPONSE, t0_ + absl::Hours(4)));
  EXPECT_TRUE(Current(name).response_deadline().reminded());
  // Not twice; the breach still comes when the deadline passes.
  env_.clock_.Set(t0_ + absl::Hours(4) + absl::Seconds(1));
  ASSERT_TRUE(watcher.RunOnce().ok());
  ASSERT_TRUE(watcher.RunOnce().ok());
  EXPECT_THAT(approaching(), SizeIs(1));
  EXPECT_THAT(Breaches(name), SizeIs(1));

  // A deadline met before its reminder time gets none: the resolution deadline (t0 + 24h).
  Acknowledge(name);
  AssignAndInvestigate(name, "agent-1");
  auto resolve = Named<crm::v1::ResolveComplaintRequest>(name);
  resolve.set_resolution("re-shipped");
  resolve.set_root_cause(crm::v1::DELIVERY_DELAY);
  ASSERT_TRUE(env_.handler_->Resolve(resolve, call_).Get().ok());
  env_.clock_.Set(t0_ + absl::Hours(23) + absl::Minutes(30));
  ASSERT_TRUE(watcher.RunOnce().ok());
  EXPECT_THAT(approaching(), SizeIs(1));
}

TEST_F(SlaWatcherTest, TheReminderGoesToTheAssigneeAndAReopeningRemindsAgain) {
  const std::string name = File("c1", crm::v1::SEVERE);  // resolution due t0 + 24h
  Acknowledge(name);
  AssignAndInvestigate(name, "agent-1");
  SlaReminders reminders(env_.handler_.get(), absl::Hours(2));
  command::DeadlineWatcher watcher({&reminders}, env_.store_.get(), &env_.clock_, nullptr, {});
  env_.clock_.Set(t0_ + absl::Hours(22) + absl::Minutes(1));
  ASSERT_TRUE(watcher.RunOnce().ok());
  std::vector<EventEnvelope> got;
  for (auto& e : env_.EventsOf(name)) {
    if (e.has_complaint_deadline_approaching()) got.push_back(e);
  }
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].complaint_deadline_approaching().kind(), crm::events::v1::RESOLUTION);
  EXPECT_EQ(got[0].complaint_deadline_approaching().assignee().staff_id(), "agent-1");
  // A reopening sets a new resolution deadline: it is reminded of in its turn.
  ResolveVisitReopen(name);
  const absl::Time due = ComplaintEnv::T(Current(name).resolution_deadline().due_time());
  EXPECT_FALSE(Current(name).resolution_deadline().reminded());
  env_.clock_.Set(due - absl::Hours(1));
  ASSERT_TRUE(watcher.RunOnce().ok());
  EXPECT_TRUE(Current(name).resolution_deadline().reminded());
}

// The reminders look from now to now + lead: a deadline that passed before the watcher came round
// (the process was down) gets no reminder, however often it scans; its breach tells instead.
TEST_F(SlaWatcherTest, APassedDeadlineIsNotReminded) {
  const std::string name = File("c1", crm::v1::SEVERE);  // response due t0 + 4h
  SlaReminders reminders(env_.handler_.get(), absl::Hours(1));
  command::DeadlineWatcher watcher({&reminders}, env_.store_.get(), &env_.clock_, nullptr, {});
  env_.clock_.Set(t0_ + absl::Hours(4) + absl::Seconds(1));
  ASSERT_TRUE(watcher.RunOnce().ok());
  env_.clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(watcher.RunOnce().ok());
  for (auto& e : env_.EventsOf(name)) EXPECT_FALSE(e.has_complaint_deadline_approaching());
  EXPECT_FALSE(Current(name).response_deadline().reminded());
}

TEST_F(SlaWatcherTest, MetDeadlineIsNotBreached) {
  const std::string name = File("c1", crm::v1::SEVERE);
  env_.clock_.Advance(absl::Hours(1));
  Acknowledge(name);
  auto watcher = NewWatcher();
  env_.clock_.Set(t0_ + absl::Hours(5));  // past the response deadline, met at t0 + 1h
  ASSERT_TRUE(watcher->RunOnce().ok());
  EXPECT_THAT(Breaches(name), IsEmpty());
  EXPECT_EQ(Current(name).escalation_level(), 0);
}

TEST_F(SlaWatcherTest, EscalatesToTheAssigneesManagerThenUpAndReopenBreachesAgain) {
  const std::string name = File("c1", crm::v1::SEVERE);  // resolution due t0 + 24h
  Acknowledge(name);
  AssignAndInvestigate(name, "agent-1");
  auto watcher = NewWatcher();

  env_.clock_.Set(t0_ + absl::Hours(24) + absl::Seconds(1));
  ASSERT_TRUE(watcher->RunOnce().ok());
  auto escalations = Escalations(name);
  ASSERT_THAT(escalations, SizeIs(1));
  EXPECT_EQ(escalations[0].complaint_escalated().from().staff_id(), "agent-1");
  EXPECT_EQ(escalations[0].complaint_escalated().to().staff_id(), "sup-1");
  EXPECT_EQ(escalations[0].complaint_escalated().level(), 1);
  EXPECT_EQ(Breaches(name)[0].complaint_sla_breached().assignee().staff_id(), "agent-1");
  EXPECT_EQ(Current(name).status(), crm::v1::INVESTIGATING);

  // Resolved late, not satisfied, reopened: a new resolution deadline that can breach again.
  env_.clock_.Advance(absl::Hours(1));
  ResolveVisitReopen(name);
  const absl::Time reopened_at = env_.clock_.Now();
  auto index = env_.DeadlineIndex();
  ASSERT_THAT(index, SizeIs(1));
  EXPECT_EQ(index[0].due, reopened_at + absl::Hours(24));
  ASSERT_TRUE(watcher->RunOnce().ok());
  EXPECT_THAT(Breaches(name), SizeIs(1));

  env_.clock_.Set(reopened_at + absl::Hours(24) + absl::Seconds(1));
  ASSERT_TRUE(watcher->RunOnce().ok());
  auto breaches = Breaches(name);
  ASSERT_THAT(breaches, SizeIs(2));
  EXPECT_EQ(ComplaintEnv::T(breaches[1].complaint_sla_breached().due_time()),
            reopened_at + absl::Hours(24));
  EXPECT_NE(breaches[1].request_id(), breaches[0].request_id());
  escalations = Escalations(name);
  ASSERT_THAT(escalations, SizeIs(2));
  EXPECT_EQ(escalations[1].complaint_escalated().from().staff_id(), "sup-1");
  EXPECT_EQ(escalations[1].complaint_escalated().to().staff_id(), "mgr-1");
  EXPECT_EQ(escalations[1].complaint_escalated().level(), 2);
  EXPECT_EQ(Current(name).escalated_to().staff_id(), "mgr-1");
  EXPECT_THAT(env_.DeadlineIndex(), IsEmpty());
}

TEST_F(SlaWatcherTest, UnassignedBreachEscalatesToNobody) {
  const std::string name = File("c1", crm::v1::MINOR);  // response due t0 + 48h
  auto watcher = NewWatcher();
  env_.clock_.Set(t0_ + absl::Hours(49));
  ASSERT_TRUE(watcher->RunOnce().ok());
  auto escalations = Escalations(name);
  ASSERT_THAT(escalations, SizeIs(1));
  EXPECT_EQ(escalations[0].complaint_escalated().to().staff_id(), "");
  EXPECT_EQ(Current(name).escalation_level(), 1);
}

TEST_F(SlaWatcherTest, OnlyStreamsThisReplicaWritesAndOldestFirst) {
  env_.RegisterCustomer("other");
  const std::string mine = File("c1", crm::v1::SEVERE);
  const std::string theirs = File("c2", crm::v1::SEVERE, "other");
  std::vector<std::string> asked;
  auto watcher = NewWatcher([&](absl::string_view stream_key) {
    asked.push_back(std::string(stream_key));
    return stream_key == "acme";
  });
  env_.clock_.Set(t0_ + absl::Hours(5));
  ASSERT_TRUE(watcher->RunOnce().ok());
  EXPECT_THAT(Breaches(mine), SizeIs(1));
  EXPECT_THAT(Breaches(theirs), IsEmpty());
  EXPECT_THAT(asked, ::testing::UnorderedElementsAre("acme", "other"));
}

TEST_F(SlaWatcherTest, ConcurrentWatchersAppendOnce) {
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) names.push_back(File(absl::StrCat("c", i), crm::v1::SEVERE));
  env_.clock_.Set(t0_ + absl::Hours(5));
  auto a = NewWatcher();
  auto b = NewWatcher();
  std::thread ta([&] { EXPECT_TRUE(a->RunOnce().ok()); });
  std::thread tb([&] { EXPECT_TRUE(b->RunOnce().ok()); });
  ta.join();
  tb.join();
  for (const auto& name : names) {
    EXPECT_THAT(Breaches(name), SizeIs(1)) << name;
    EXPECT_THAT(Escalations(name), SizeIs(1)) << name;
  }
}

TEST_F(SlaWatcherTest, RetriedBreachCommandReturnsTheFirstAnswer) {
  const std::string name = File("c1", crm::v1::SEVERE);
  const absl::Time due = t0_ + absl::Hours(4);
  env_.clock_.Set(due + absl::Minutes(1));
  const std::string request_id = SlaDeadlines::RequestIdFor(name, crm::v1::RESPONSE, due);
  auto first = env_.handler_->BreachSla(name, crm::v1::RESPONSE, due, request_id, call_).Get();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->appended_event_count(), 2);
  auto again = env_.handler_->BreachSla(name, crm::v1::RESPONSE, due, request_id, call_).Get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->appended_event_count(), 2);  // the first answer
  EXPECT_EQ(again->consistency_token(), first->consistency_token());
  // A different request id for the same deadline records nothing either.
  auto other = env_.handler_->BreachSla(name, crm::v1::RESPONSE, due, "other", call_).Get();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->appended_event_count(), 0);
  EXPECT_THAT(Breaches(name), SizeIs(1));
}

TEST_F(SlaWatcherTest, FailingBreachIsRetriedOnTheNextScan) {
  const std::string name = File("c1", crm::v1::SEVERE);
  auto watcher = NewWatcher();
  env_.clock_.Set(t0_ + absl::Hours(5));
  env_.log_.fail_appends = 1;
  absl::Status scanned = watcher->RunOnce();
  EXPECT_EQ(scanned.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Breaches(name), IsEmpty());
  ASSERT_TRUE(watcher->RunOnce().ok());
  EXPECT_THAT(Breaches(name), SizeIs(1));
  // The breach is dated at the due time, whenever it is recorded.
  EXPECT_EQ(ComplaintEnv::T(Breaches(name)[0].occurred_at()), t0_ + absl::Hours(4));
}

TEST_F(SlaWatcherTest, LateStepRecordsTheBreachTheWatcherDidNotSeeYet) {
  const std::string name = File("c1", crm::v1::SEVERE);
  env_.clock_.Set(t0_ + absl::Hours(4) + absl::Seconds(30));
  Acknowledge(name);  // before any scan
  auto watcher = NewWatcher();
  ASSERT_TRUE(watcher->RunOnce().ok());
  auto breaches = Breaches(name);
  ASSERT_THAT(breaches, SizeIs(1));
  EXPECT_EQ(breaches[0].complaint_sla_breached().kind(), crm::events::v1::RESPONSE);
  EXPECT_EQ(breaches[0].actor(), call_.actor);  // recorded by the acknowledgement
  EXPECT_THAT(Escalations(name), IsEmpty());
}

TEST_F(SlaWatcherTest, BackgroundThreadScansUntilStopped) {
  const std::string name = File("c1", crm::v1::SEVERE);
  auto watcher = NewWatcher(nullptr, {.scan_interval = absl::Milliseconds(5)});
  watcher->Start();
  watcher->Start();  // idempotent
  env_.clock_.Set(t0_ + absl::Hours(5));
  // Poll (with a deadline) for the thread's scan to record the breach.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (Breaches(name).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  watcher->Stop();
  watcher->Stop();  // idempotent
  EXPECT_THAT(Breaches(name), SizeIs(1));
  // Stopped: a deadline passing now stays unrecorded until the next scan.
  const std::string second = File("c2", crm::v1::SEVERE);
  env_.clock_.Advance(absl::Hours(5));
  EXPECT_THAT(Breaches(second), IsEmpty());
  ASSERT_TRUE(watcher->RunOnce().ok());
  EXPECT_THAT(Breaches(second), SizeIs(1));
}

TEST(SlaWatcherRequestIdTest, DeterministicPerDeadline) {
  const absl::Time due = absl::FromUnixSeconds(1'700'000'000);
  const std::string a =
      SlaDeadlines::RequestIdFor("customers/a/complaints/1", crm::v1::RESPONSE, due);
  EXPECT_TRUE(base::IsUuid(a));
  EXPECT_EQ(a, SlaDeadlines::RequestIdFor("customers/a/complaints/1", crm::v1::RESPONSE, due));
  EXPECT_NE(a, SlaDeadlines::RequestIdFor("customers/a/complaints/1", crm::v1::RESOLUTION, due));
  EXPECT_NE(a, SlaDeadlines::RequestIdFor("customers/a/complaints/1", crm::v1::RESPONSE,
                                          due + absl::Seconds(1)));
  EXPECT_NE(a, SlaDeadlines::RequestIdFor("customers/a/complaints/2", crm::v1::RESPONSE, due));
}

}  // namespace
}  // namespace crm::services::complaint
