#include "services/interaction/follow_up_reminders.h"

#include <string>
#include <vector>

#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/services/interaction/interaction_test_env.h"

namespace crm::services::interaction {
namespace {

using testing::EventEnvelope;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing::Ts;

// The follow-up reminders as the server's deadline watcher runs them: once per open follow-up,
// at due - lead, to the interaction's staff member; none for a follow-up completed first or
// already past when the watcher comes round.
class FollowUpRemindersTest : public testing::InteractionTestEnv {
 protected:
  void SetUp() override {
    InteractionTestEnv::SetUp();
    SeedCustomer("acme");
    SeedStaff("ann");
    t0_ = clock_.Now();
    reminders_ = std::make_unique<FollowUpReminders>(handler_.get(), absl::Hours(2));
    watcher_ = std::make_unique<command::DeadlineWatcher>(
        std::vector<const command::DeadlineSource*>{reminders_.get()}, state_store_.get(), &clock_,
        nullptr, command::DeadlineWatcher::Options{});
  }
  void TearDown() override {
    watcher_.reset();
    reminders_.reset();
    InteractionTestEnv::TearDown();
  }

  // Logs an interaction whose follow-up is due at t0 + `due_in`.
  std::string Log(absl::Duration due_in) {
    auto request = LogRequest("acme", base::NewUuid());
    *request.mutable_interaction()->mutable_follow_up_due_time() = Ts(t0_ + due_in);
    auto r = handler_->LogInteraction(request, call_).Get();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->interaction().name() : "";
  }
  std::vector<EventEnvelope> Reminders(const std::string& name) {
    std::vector<EventEnvelope> out;
    for (EventEnvelope& e : EventsOf(name)) {
      if (e.has_follow_up_due_soon()) out.push_back(e);
    }
    return out;
  }
  bool Reminded(const std::string& name) {
    auto v = aggregate_state_->Get<crm::v1::Interaction>(name);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() && v->state.follow_up_reminded();
  }

  absl::Time t0_;
  std::unique_ptr<FollowUpReminders> reminders_;
  std::unique_ptr<command::DeadlineWatcher> watcher_;
};

TEST_F(FollowUpRemindersTest, OnceAtTheLeadBeforeTheDueTime) {
  const std::string name = Log(absl::Hours(24));
  clock_.Set(t0_ + absl::Hours(22) - absl::Seconds(1));
  ASSERT_TRUE(watcher_->RunOnce().ok());
  EXPECT_THAT(Reminders(name), IsEmpty());
  clock_.Set(t0_ + absl::Hours(22));
  ASSERT_TRUE(watcher_->RunOnce().ok());
  auto got = Reminders(name);
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].follow_up_due_soon().staff_id(), "ann");
  EXPECT_EQ(base::ToTime(got[0].follow_up_due_soon().follow_up_due_time()), t0_ + absl::Hours(24));
  EXPECT_EQ(base::ToTime(got[0].occurred_at()), t0_ + absl::Hours(22));
  EXPECT_EQ(got[0].actor(), "crm/sla-watcher");
  EXPECT_EQ(got[0].request_id(), FollowUpReminders::RequestIdFor(name, t0_ + absl::Hours(24)));
  EXPECT_TRUE(Reminded(name));
  // Not twice: more scans, a later time.
  ASSERT_TRUE(watcher_->RunOnce().ok());
  clock_.Set(t0_ + absl::Hours(23));
  ASSERT_TRUE(watcher_->RunOnce().ok());
  EXPECT_THAT(Reminders(name), SizeIs(1));
}

TEST_F(FollowUpRemindersTest, CompletedOrPassedFollowUpsAreNotReminded) {
  const std::string done = Log(absl::Hours(24));
  const std::string passed = Log(absl::Hours(1));
  crm::v1::CompleteFollowUpRequest complete;
  complete.set_name(done);
  complete.set_request_id(base::NewUuid());
  ASSERT_TRUE(handler_->CompleteFollowUp(complete, call_).Get().ok());
  // The watcher first comes round after the second one's due time.
  clock_.Set(t0_ + absl::Hours(23));
  ASSERT_TRUE(watcher_->RunOnce().ok());
  ASSERT_TRUE(watcher_->RunOnce().ok());
  EXPECT_THAT(Reminders(done), IsEmpty());
  EXPECT_THAT(Reminders(passed), IsEmpty());
  EXPECT_FALSE(Reminded(passed));
}

}  // namespace
}  // namespace crm::services::interaction
