#include "domain/improvement/improvement_action.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status/errors.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::domain::improvement {
namespace {

using crm::v1::ImprovementAction;
using ::testing::ElementsAre;

std::vector<std::string> Fields(const absl::Status& status) {
  google::rpc::BadRequest bad_request;
  std::vector<std::string> fields;
  if (crm::status::GetDetail(status, &bad_request)) {
    for (const auto& fv : bad_request.field_violations()) fields.push_back(fv.field());
  }
  return fields;
}

std::string Reason(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  crm::status::GetDetail(status, &info);
  return info.reason();
}

// The staff and complaints decisions look up, and an action's state as the command side keeps it.
class ImprovementActionTest : public ::testing::Test {
 protected:
  ImprovementLookup Lookup() {
    ImprovementLookup lookup;
    lookup.staff = [this](absl::string_view id) -> absl::StatusOr<std::optional<crm::v1::Staff>> {
      auto it = staff_.find(std::string(id));
      if (it == staff_.end()) return std::nullopt;
      return it->second;
    };
    lookup.complaint_exists = [this](absl::string_view name) -> absl::StatusOr<bool> {
      return complaints_.count(std::string(name)) > 0;
    };
    return lookup;
  }

  // Applies `events` as the executor would (versions, recorded_at = occurred_at = `seconds`).
  void ApplyAll(const Events& events, int64_t seconds) {
    for (Event e : events) {
      e.set_aggregate(name_);
      e.set_aggregate_version(state_.version() + 1);
      e.mutable_recorded_at()->set_seconds(seconds);
      *e.mutable_occurred_at() = e.recorded_at();
      ASSERT_TRUE(Apply(state_, e).ok());
    }
  }

  crm::v1::RaiseImprovementActionRequest Raise() {
    crm::v1::RaiseImprovementActionRequest r;
    r.set_request_id("r1");
    auto* a = r.mutable_improvement_action();
    a->set_title("Second courier for the south");
    a->set_root_cause(crm::v1::DELIVERY_DELAY);
    a->set_owner("ann");
    a->add_complaints("customers/acme/complaints/c1");
    return r;
  }

  std::map<std::string, crm::v1::Staff> staff_ = {{"ann", Active(true)}, {"old", Active(false)}};
  std::set<std::string> complaints_ = {"customers/acme/complaints/c1",
                                       "customers/acme/complaints/c2",
                                       "customers/zeta/complaints/c3"};
  ImprovementAction state_;
  const std::string name_ = "improvementActions/a1";

 private:
  static crm::v1::Staff Active(bool active) {
    crm::v1::Staff s;
    s.set_active(active);
    return s;
  }
};

TEST_F(ImprovementActionTest, RaiseLinkCompleteFlow) {
  auto raised = DecideRaise(state_, Raise(), "a1", Lookup());
  ASSERT_TRUE(raised.ok()) << raised.status();
  ASSERT_EQ(raised->size(), 1u);
  const auto& plan = (*raised)[0].improvement_action_raised().action();
  EXPECT_EQ(plan.name(), name_);
  EXPECT_EQ(plan.root_cause(), crm::events::v1::DELIVERY_DELAY);
  ApplyAll(*raised, 100);
  EXPECT_EQ(state_.state(), crm::v1::IMPROVEMENT_OPEN);
  EXPECT_EQ(state_.etag(), "v1");
  EXPECT_EQ(state_.create_time().seconds(), 100);
  EXPECT_THAT(state_.complaints(), ElementsAre("customers/acme/complaints/c1"));

  crm::v1::LinkImprovementComplaintsRequest link;
  link.set_name(name_);
  link.add_complaints("customers/acme/complaints/c1");  // linked already: ignored
  link.add_complaints("customers/zeta/complaints/c3");
  auto linked = DecideLinkComplaints(state_, link, Lookup());
  ASSERT_TRUE(linked.ok()) << linked.status();
  EXPECT_THAT((*linked)[0].improvement_action_complaints_linked().complaints(),
              ElementsAre("customers/zeta/complaints/c3"));
  ApplyAll(*linked, 200);
  EXPECT_THAT(state_.complaints(),
              ElementsAre("customers/acme/complaints/c1", "customers/zeta/complaints/c3"));
  // Nothing new: no event.
  auto again = DecideLinkComplaints(state_, link, Lookup());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  crm::v1::CompleteImprovementActionRequest complete;
  complete.set_name(name_);
  complete.set_outcome("Contracted a second courier");
  complete.set_etag("v1");
  EXPECT_EQ(DecideComplete(state_, complete).status().code(), absl::StatusCode::kAborted);
  complete.set_etag("v2");
  auto done = DecideComplete(state_, complete);
  ASSERT_TRUE(done.ok()) << done.status();
  ApplyAll(*done, 300);
  EXPECT_EQ(state_.state(), crm::v1::IMPROVEMENT_DONE);
  EXPECT_EQ(state_.outcome(), "Contracted a second courier");
  EXPECT_EQ(state_.close_time().seconds(), 300);

  // Closed: every change is FAILED_PRECONDITION.
  complete.clear_etag();
  EXPECT_EQ(Reason(DecideComplete(state_, complete).status()), "IMPROVEMENT_ACTION_CLOSED");
  crm::v1::CancelImprovementActionRequest cancel;
  cancel.set_name(name_);
  EXPECT_EQ(Reason(DecideCancel(state_, cancel).status()), "IMPROVEMENT_ACTION_CLOSED");
  link.add_complaints("customers/acme/complaints/c2");
  EXPECT_EQ(Reason(DecideLinkComplaints(state_, link, Lookup()).status()),
            "IMPROVEMENT_ACTION_CLOSED");
}

TEST_F(ImprovementActionTest, CancelRecordsTheReason) {
  ApplyAll(*DecideRaise(state_, Raise(), "a1", Lookup()), 100);
  crm::v1::CancelImprovementActionRequest cancel;
  cancel.set_name(name_);
  cancel.set_reason("Supplier changed anyway");
  auto cancelled = DecideCancel(state_, cancel);
  ASSERT_TRUE(cancelled.ok());
  ApplyAll(*cancelled, 150);
  EXPECT_EQ(state_.state(), crm::v1::IMPROVEMENT_CANCELLED);
  EXPECT_EQ(state_.outcome(), "Supplier changed anyway");
  EXPECT_EQ(state_.close_time().seconds(), 150);
}

TEST_F(ImprovementActionTest, BadRequestsNameEveryField) {
  crm::v1::RaiseImprovementActionRequest r;
  auto* a = r.mutable_improvement_action();
  a->set_owner("Not An Id");
  a->add_complaints("customers/acme/complaints/c1");
  a->add_complaints("customers/acme/complaints/c1");
  a->add_complaints("complaints/c9");
  a->set_state(crm::v1::IMPROVEMENT_DONE);
  a->mutable_due_time()->set_seconds(-100'000'000'000);
  a->set_root_cause(static_cast<crm::v1::RootCause>(99));
  auto s = DecideRaise(state_, r, "Bad Id", Lookup()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), ::testing::UnorderedElementsAre(
                             "improvement_action_id", "improvement_action.title",
                             "improvement_action.root_cause", "improvement_action.owner",
                             "improvement_action.due_time", "improvement_action.complaints[1]",
                             "improvement_action.complaints[2]", "improvement_action.state"));

  crm::v1::CompleteImprovementActionRequest complete;
  complete.set_name("actions/a1");
  EXPECT_THAT(Fields(DecideComplete(state_, complete).status()), ElementsAre("name", "outcome"));
  crm::v1::LinkImprovementComplaintsRequest link;
  link.set_name(name_);
  EXPECT_THAT(Fields(DecideLinkComplaints(state_, link, Lookup()).status()),
              ElementsAre("complaints"));
}

TEST_F(ImprovementActionTest, ReferencesMustExist) {
  auto r = Raise();
  r.mutable_improvement_action()->set_owner("nobody");
  EXPECT_EQ(Reason(DecideRaise(state_, r, "a1", Lookup()).status()), "STAFF_NOT_FOUND");
  r.mutable_improvement_action()->set_owner("old");
  EXPECT_EQ(Reason(DecideRaise(state_, r, "a1", Lookup()).status()), "STAFF_INACTIVE");
  r = Raise();
  r.mutable_improvement_action()->add_complaints("customers/acme/complaints/gone");
  const absl::Status missing = DecideRaise(state_, r, "a1", Lookup()).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(missing), "COMPLAINT_NOT_FOUND");
  EXPECT_THAT(std::string(missing.message()),
              ::testing::HasSubstr("improvement_action.complaints[1]"));

  ApplyAll(*DecideRaise(state_, Raise(), "a1", Lookup()), 100);
  EXPECT_EQ(DecideRaise(state_, Raise(), "a1", Lookup()).status().code(),
            absl::StatusCode::kAlreadyExists);
  crm::v1::CompleteImprovementActionRequest complete;
  complete.set_name("improvementActions/other");
  complete.set_outcome("x");
  EXPECT_EQ(Reason(DecideComplete(ImprovementAction(), complete).status()),
            "IMPROVEMENT_ACTION_NOT_FOUND");
}

TEST_F(ImprovementActionTest, ApplyRefusesGapsAndOtherAggregates) {
  auto raised = *DecideRaise(state_, Raise(), "a1", Lookup());
  Event e = raised[0];
  e.set_aggregate(name_);
  e.set_aggregate_version(2);
  EXPECT_EQ(Apply(state_, e).code(), absl::StatusCode::kFailedPrecondition);
  e.set_aggregate_version(1);
  e.set_aggregate("staff/ann");
  EXPECT_EQ(Apply(state_, e).code(), absl::StatusCode::kFailedPrecondition);
  Event completed;
  completed.mutable_improvement_action_completed()->set_outcome("x");
  completed.set_aggregate(name_);
  completed.set_aggregate_version(1);
  EXPECT_EQ(Apply(state_, completed).code(), absl::StatusCode::kFailedPrecondition)
      << "the first event must raise it";
  EXPECT_TRUE(IsImprovementEvent(completed));
  Event other;
  other.mutable_staff_added();
  EXPECT_FALSE(IsImprovementEvent(other));
}

}  // namespace
}  // namespace crm::domain::improvement
