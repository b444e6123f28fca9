#include "services/complaint/complaint_command_handler.h"

#include <string>
#include <vector>

#include "common/base/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"
#include "tests/services/complaint/complaint_test_env.h"

namespace crm::services::complaint {
namespace {

using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::Meta;
using ::crm::domain::customer::testing::Reason;
using testing::ComplaintEnv;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class ComplaintHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.RegisterCustomer("acme");
    env_.AddStaff("mgr-1", crm::v1::MANAGER);
    env_.AddStaff("sup-1", crm::v1::SUPERVISOR, "mgr-1");
    env_.AddStaff("agent-1", crm::v1::SERVICE_AGENT, "sup-1");
    env_.AddStaff("agent-2", crm::v1::SERVICE_AGENT, "sup-1", "teams/cs-west");
    env_.AddStaff("am-1", crm::v1::ACCOUNT_MANAGER, "mgr-1", "", "departments/sales");
    call_.actor = "alice";
  }

  ComplaintCommandHandler& handler() { return *env_.handler_; }

  absl::StatusOr<crm::v1::ComplaintCommandResponse> File(
      const std::string& complaint_id, const std::string& request_id = "",
      crm::v1::ComplaintSeverity severity = crm::v1::GENERAL,
      const std::string& parent = "customers/acme") {
    crm::v1::FileComplaintRequest request;
    request.set_parent(parent);
    request.set_complaint_id(complaint_id);
    request.set_request_id(request_id);
    auto* c = request.mutable_complaint();
    c->set_channel(crm::v1::EMAIL);
    c->set_category(crm::v1::PRODUCT_QUALITY);
    c->set_severity(severity);
    c->set_description("The kettle leaks");
    return handler().File(request, call_).Get();
  }
  template <typename Req>
  Req Named(const std::string& name) {
    Req request;
    request.set_name(name);
    request.set_request_id(base::NewUuid());
    return request;
  }
  absl::StatusOr<crm::v1::ComplaintCommandResponse> Assign(const std::string& name,
                                                           const std::string& assignee) {
    auto request = Named<crm::v1::AssignComplaintRequest>(name);
    request.set_assignee(assignee);
    return handler().Assign(request, call_).Get();
  }

  ComplaintEnv env_;
  rpc::CallContext call_;
};

constexpr char kName[] = "customers/acme/complaints/c1";

TEST_F(ComplaintHandlerTest, FullFlowAppendsStampedEventsToTheCustomersStream) {
  const absl::Time t0 = env_.clock_.Now();
  auto filed = File("c1", "req-file");
  ASSERT_TRUE(filed.ok()) << filed.status();
  EXPECT_EQ(filed->complaint().name(), kName);
  EXPECT_EQ(filed->complaint().status(), crm::v1::FILED);
  EXPECT_EQ(filed->complaint().etag(), "v1");
  EXPECT_EQ(filed->appended_event_count(), 1);
  EXPECT_FALSE(filed->consistency_token().empty());
  EXPECT_EQ(ComplaintEnv::T(filed->complaint().response_deadline().due_time()),
            t0 + absl::Hours(24));

  auto ack = Named<crm::v1::AcknowledgeComplaintRequest>(kName);
  ack.set_responder("agent-1");
  auto r = handler().Acknowledge(ack, call_).Get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->complaint().status(), crm::v1::ACKNOWLEDGED);
  r = Assign(kName, "agent-1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->complaint().assignee().staff_id(), "agent-1");
  EXPECT_EQ(r->complaint().assignee().team(), "teams/cs-east");
  EXPECT_EQ(r->complaint().assignee().department(), "departments/cs");
  r = handler().StartInvestigation(Named<crm::v1::StartInvestigationRequest>(kName), call_).Get();
  ASSERT_TRUE(r.ok()) << r.status();
  auto resolve = Named<crm::v1::ResolveComplaintRequest>(kName);
  resolve.set_resolution("Replaced the kettle");
  resolve.set_root_cause(crm::v1::PRODUCT_DEFECT);
  env_.clock_.Advance(absl::Hours(1));
  r = handler().Resolve(resolve, call_).Get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->complaint().status(), crm::v1::RESOLVED);
  auto visit = Named<crm::v1::RecordFollowUpVisitRequest>(kName);
  visit.mutable_visit()->set_satisfied(false);
  visit.mutable_visit()->set_csat(2);
  r = handler().RecordFollowUpVisit(visit, call_).Get();
  ASSERT_TRUE(r.ok()) << r.status();
  auto reopen = Named<crm::v1::ReopenComplaintRequest>(kName);
  reopen.set_reason("leaks again");
  r = handler().Reopen(reopen, call_).Get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->complaint().status(), crm::v1::REOPENED);
  EXPECT_EQ(ComplaintEnv::T(r->complaint().resolution_deadline().due_time()),
            env_.clock_.Now() + absl::Hours(72));
  r = Assign(kName, "agent-2");
  ASSERT_TRUE(r.ok()) << r.status();
  r = handler().StartInvestigation(Named<crm::v1::StartInvestigationRequest>(kName), call_).Get();
  ASSERT_TRUE(r.ok());
  resolve.set_request_id(base::NewUuid());
  r = handler().Resolve(resolve, call_).Get();
  ASSERT_TRUE(r.ok());
  visit.set_request_id(base::NewUuid());
  visit.mutable_visit()->set_satisfied(true);
  visit.mutable_visit()->set_csat(5);
  r = handler().RecordFollowUpVisit(visit, call_).Get();
  ASSERT_TRUE(r.ok());
  r = handler().Close(Named<crm::v1::CloseComplaintRequest>(kName), call_).Get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->complaint().status(), crm::v1::CLOSED);
  EXPECT_EQ(r->complaint().version(), 12);

  std::vector<std::string> types;
  for (const auto& e : env_.EventsOf(kName)) {
    types.push_back(e.event_type().substr(e.event_type().rfind('.') + 1));
    EXPECT_EQ(e.customer_id(), "acme");
    EXPECT_EQ(e.actor(), "alice");
    EXPECT_EQ(e.aggregate_version(), static_cast<int64_t>(types.size()));
  }
  EXPECT_THAT(
      types, ElementsAre("ComplaintFiled", "ComplaintAcknowledged", "ComplaintAssigned",
                         "ComplaintInvestigationStarted", "ComplaintResolved",
                         "ComplaintFollowUpVisitRecorded", "ComplaintReopened", "ComplaintAssigned",
                         "ComplaintInvestigationStarted", "ComplaintResolved",
                         "ComplaintFollowUpVisitRecorded", "ComplaintClosed"));
  const auto events = env_.EventsOf(kName);
  EXPECT_EQ(events[1].complaint_acknowledged().responder().staff_id(), "agent-1");
  EXPECT_EQ(events[7].complaint_assigned().previous_assignee(), "agent-1");
  EXPECT_EQ(events[7].complaint_assigned().assignee().team(), "teams/cs-west");
  EXPECT_EQ(events[10].complaint_follow_up_visit_recorded().resolver().staff_id(), "agent-2");
}

TEST_F(ComplaintHandlerTest, FileNeedsAKnownCustomer) {
  auto filed = File("c1", "", crm::v1::GENERAL, "customers/nobody");
  EXPECT_EQ(filed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(filed.status()), "CUSTOMER_NOT_FOUND");
  EXPECT_THAT(std::string(filed.status().message()), ::testing::HasSubstr("customers/nobody"));
  EXPECT_THAT(env_.EventsOf("customers/nobody/complaints/c1"), IsEmpty());
}

TEST_F(ComplaintHandlerTest, FileIdComesFromTheRequestIdSoARetryFindsTheSameComplaint) {
  auto first = File("", "req-42");
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = File("", "req-42");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->complaint().name(), first->complaint().name());
  EXPECT_EQ(again->appended_event_count(), 1);  // exactly the first answer (issue 8: was 0)
  EXPECT_EQ(again->consistency_token(), first->consistency_token());
  EXPECT_THAT(env_.EventsOf(first->complaint().name()), SizeIs(1));

  crm::v1::FileComplaintRequest request;
  request.set_request_id("req-42");
  EXPECT_EQ(ComplaintIdFor(request),
            first->complaint().name().substr(strlen("customers/acme/complaints/")));
  auto random = File("", "");
  ASSERT_TRUE(random.ok());
  EXPECT_NE(random->complaint().name(), first->complaint().name());
}

TEST_F(ComplaintHandlerTest, FileUnderATakenIdIsAlreadyExists) {
  ASSERT_TRUE(File("c1", "a").ok());
  auto second = File("c1", "b");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(second.status()), "COMPLAINT_ALREADY_EXISTS");
}

TEST_F(ComplaintHandlerTest, AssigneeMustBeKnownActiveAndAllowed) {
  ASSERT_TRUE(File("c1").ok());
  ASSERT_TRUE(
      handler().Acknowledge(Named<crm::v1::AcknowledgeComplaintRequest>(kName), call_).Get().ok());
  auto unknown = Assign(kName, "nobody");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  auto not_allowed = Assign(kName, "am-1");
  EXPECT_EQ(not_allowed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(not_allowed.status()), "ROLE_NOT_ALLOWED");
  env_.DeactivateStaff("agent-2");
  auto inactive = Assign(kName, "agent-2");
  EXPECT_EQ(inactive.status().code(), absl::StatusCode::kFailedPrecondition);
  // Bad fields are reported before any lookup.
  auto bad = Assign("customers/acme/complaints/", "nobody");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FirstField(bad.status()), "name");
  EXPECT_THAT(env_.EventsOf(kName), SizeIs(2));
}

TEST_F(ComplaintHandlerTest, InvalidTransitionNamesTheCurrentStatus) {
  ASSERT_TRUE(File("c1").ok());
  auto closed = handler().Close(Named<crm::v1::CloseComplaintRequest>(kName), call_).Get();
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed.status().message(),
            "customers/acme/complaints/c1 is FILED; CloseComplaint needs FOLLOWED_UP");
  EXPECT_EQ(Meta(closed.status(), "current_status"), "FILED");
  auto missing =
      handler()
          .Close(Named<crm::v1::CloseComplaintRequest>("customers/acme/complaints/nope"), call_)
          .Get();
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ComplaintHandlerTest, EscalationGoesUpSkippingDeactivatedManagers) {
  ASSERT_TRUE(File("c1").ok());
  ASSERT_TRUE(
      handler().Acknowledge(Named<crm::v1::AcknowledgeComplaintRequest>(kName), call_).Get().ok());
  ASSERT_TRUE(Assign(kName, "agent-1").ok());
  env_.DeactivateStaff("sup-1");
  auto r = handler().Escalate(Named<crm::v1::EscalateComplaintRequest>(kName), call_).Get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->complaint().escalation_level(), 1);
  EXPECT_EQ(r->complaint().escalated_to().staff_id(), "mgr-1");
  auto top = handler().Escalate(Named<crm::v1::EscalateComplaintRequest>(kName), call_).Get();
  EXPECT_EQ(top.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(top.status()), "TOP_OF_REPORTING_LINE");

  auto manager = handler().ManagerOf("agent-2", absl::InfiniteFuture());
  ASSERT_TRUE(manager.ok()) << manager.status();
  ASSERT_TRUE(manager->has_value());
  EXPECT_EQ((*manager)->staff_id(), "mgr-1");
  EXPECT_EQ((*manager)->department(), "departments/cs");
  manager = handler().ManagerOf("mgr-1", absl::InfiniteFuture());
  ASSERT_TRUE(manager.ok());
  EXPECT_FALSE(manager->has_value());
  EXPECT_EQ(handler().ManagerOf("ghost", absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ComplaintHandlerTest, DeadlineIndexHoldsTheOpenDeadlinesOnly) {
  ASSERT_TRUE(File("c1", "", crm::v1::SEVERE).ok());
  const absl::Time t0 = env_.clock_.Now();
  auto index = env_.DeadlineIndex();
  ASSERT_THAT(index, SizeIs(2));
  EXPECT_EQ(index[0].complaint, kName);
  EXPECT_EQ(index[0].customer_id, "acme");
  EXPECT_EQ(index[0].kind, crm::v1::RESPONSE);
  EXPECT_EQ(index[0].due, t0 + absl::Hours(4));
  EXPECT_EQ(index[1].kind, crm::v1::RESOLUTION);
  EXPECT_EQ(index[1].due, t0 + absl::Hours(24));

  ASSERT_TRUE(
      handler().Acknowledge(Named<crm::v1::AcknowledgeComplaintRequest>(kName), call_).Get().ok());
  index = env_.DeadlineIndex();
  ASSERT_THAT(index, SizeIs(1));
  EXPECT_EQ(index[0].kind, crm::v1::RESOLUTION);

  ASSERT_TRUE(Assign(kName, "agent-1").ok());
  ASSERT_TRUE(handler()
                  .StartInvestigation(Named<crm::v1::StartInvestigationRequest>(kName), call_)
                  .Get()
                  .ok());
  auto resolve = Named<crm::v1::ResolveComplaintRequest>(kName);
  resolve.set_resolution("fixed");
  resolve.set_root_cause(crm::v1::PROCESS_GAP);
  ASSERT_TRUE(handler().Resolve(resolve, call_).Get().ok());
  EXPECT_THAT(env_.DeadlineIndex(), IsEmpty());

  auto visit = Named<crm::v1::RecordFollowUpVisitRequest>(kName);
  visit.mutable_visit()->set_csat(1);
  ASSERT_TRUE(handler().RecordFollowUpVisit(visit, call_).Get().ok());
  env_.clock_.Advance(absl::Hours(2));
  ASSERT_TRUE(handler().Reopen(Named<crm::v1::ReopenComplaintRequest>(kName), call_).Get().ok());
  index = env_.DeadlineIndex();
  ASSERT_THAT(index, SizeIs(1));
  EXPECT_EQ(index[0].due, env_.clock_.Now() + absl::Hours(24));

  // The index is rebuilt identically from the log.
  std::vector<std::string> before;
  ASSERT_TRUE(env_.store_
                  ->ScanPrefix(kDeadlinePrefix, "", 0,
                               [&](absl::string_view k, absl::string_view v) {
                                 before.push_back(absl::StrCat(k, "=", v));
                                 return true;
                               })
                  .ok());
  env_.Close();
  ASSERT_TRUE(kv::KvStore::Destroy(env_.dir_.string()).ok());
  env_.Open();
  std::vector<std::string> after;
  ASSERT_TRUE(env_.store_
                  ->ScanPrefix(kDeadlinePrefix, "", 0,
                               [&](absl::string_view k, absl::string_view v) {
                                 after.push_back(absl::StrCat(k, "=", v));
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(after, before);
}

TEST(ComplaintKindTest, DeadlineKeysSortByDueTime) {
  const absl::Time t = absl::FromUnixSeconds(1'700'000'000);
  const std::string a = DeadlineKey(t, "customers/z/complaints/z", crm::v1::RESPONSE);
  const std::string b =
      DeadlineKey(t + absl::Microseconds(1), "customers/a/complaints/a", crm::v1::RESPONSE);
  EXPECT_EQ(a, "sla/00001700000000000000/customers/z/complaints/z/RESPONSE");
  EXPECT_LT(a, b);
  EXPECT_LT(a, DeadlineScanEnd(t));
  EXPECT_GT(b, DeadlineScanEnd(t));
  EXPECT_LT(b, DeadlineScanEnd(t + absl::Microseconds(1)));
  EXPECT_EQ(DeadlineKey(absl::FromUnixSeconds(-5), "n", crm::v1::RESPONSE),
            "sla/00000000000000000000/n/RESPONSE");
  EXPECT_EQ(ParseDeadlineEntry("sla/x", "").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseDeadlineEntry(a, "garbage-not-proto\xff").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(ComplaintNamesTest, CustomerIdOfNamesAndParents) {
  EXPECT_EQ(CustomerIdOf("customers/acme/complaints/c1"), "acme");
  EXPECT_EQ(CustomerIdOf("customers/acme"), "acme");
  EXPECT_EQ(CustomerIdOf("customers/acme/complaints/"), "");
  EXPECT_EQ(CustomerIdOf(""), "");
  crm::v1::FileComplaintRequest request;
  request.set_complaint_id("given");
  EXPECT_EQ(ComplaintIdFor(request), "given");
  request.clear_complaint_id();
  EXPECT_TRUE(base::IsUuid(ComplaintIdFor(request)));
}

}  // namespace
}  // namespace crm::services::complaint
