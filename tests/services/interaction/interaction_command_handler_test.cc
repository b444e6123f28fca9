#include "services/interaction/interaction_command_handler.h"

#include <vector>

#include "common/base/uuid.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"
#include "tests/services/interaction/interaction_test_env.h"

namespace crm::services::interaction {
namespace {

using ::crm::domain::customer::testing::Meta;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::ViolationFields;
using ::google::protobuf::util::MessageDifferencer;
using testing::EventEnvelope;
using testing::Ts;

std::vector<EventEnvelope> ReadAll(eventlog::EventLog& log) {
  auto reader = log.NewReader({{0, 0}});
  EXPECT_TRUE(reader.ok());
  std::vector<EventEnvelope> out;
  const int64_t end = *log.EndOffset(0);
  while (static_cast<int64_t>(out.size()) < end) {
    auto records = (*reader)->Poll(1000, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(records.ok());
    if (!records.ok() || records->empty()) break;
    for (const auto& r : *records) {
      EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(r.value));
      out.push_back(e);
    }
  }
  return out;
}

class InteractionCommandHandlerTest : public testing::InteractionTestEnv {
 protected:
  void SetUp() override {
    InteractionTestEnv::SetUp();
    SeedCustomer("acme");
    SeedStaff("ann");
    SeedStaff("old", /*active=*/false);
  }
};

TEST_F(InteractionCommandHandlerTest, LogStampsTheEventAndAnswersWithTheInteraction) {
  call_.actor = "agent-ui";
  auto request = LogRequest("acme", "req-1");
  request.set_interaction_id("call-1");
  auto response = handler_->LogInteraction(request, call_).Get();
  ASSERT_TRUE(response.ok()) << response.status();
  const auto& i = response->interaction();
  EXPECT_EQ(i.name(), "customers/acme/interactions/call-1");
  EXPECT_EQ(i.version(), 1);
  EXPECT_EQ(i.etag(), "v1");
  EXPECT_EQ(i.staff_id(), "ann");
  EXPECT_EQ(i.summary(), "Called about the renewal");
  EXPECT_TRUE(MessageDifferencer::Equals(i.create_time(), Ts(clock_.Now())));
  EXPECT_EQ(response->appended_event_count(), 1);
  EXPECT_FALSE(response->consistency_token().empty());

  auto events = ReadAll(log_);
  const EventEnvelope& e = events.back();
  EXPECT_EQ(e.event_type(), "crm.events.v1.InteractionLogged");
  EXPECT_EQ(e.customer_id(), "acme");
  EXPECT_EQ(e.aggregate(), "customers/acme/interactions/call-1");
  EXPECT_EQ(e.aggregate_version(), 1);
  EXPECT_EQ(e.request_id(), "req-1");
  EXPECT_EQ(e.actor(), "agent-ui");
  EXPECT_TRUE(base::IsUuid(e.event_id()));
  // The business time is the interaction's; recorded_at is the command's.
  EXPECT_TRUE(MessageDifferencer::Equals(e.occurred_at(), request.interaction().occurred_at()));
  EXPECT_TRUE(MessageDifferencer::Equals(e.recorded_at(), Ts(clock_.Now())));
  // The staff member is stamped with their team and department at the time.
  EXPECT_EQ(e.interaction_logged().staff().staff_id(), "ann");
  EXPECT_EQ(e.interaction_logged().staff().team(), "teams/care");
  EXPECT_EQ(e.interaction_logged().staff().department(), "departments/service");
}

TEST_F(InteractionCommandHandlerTest, RetryWithTheSameRequestIdAppendsNothing) {
  auto first = handler_->LogInteraction(LogRequest("acme", "req-1"), call_).Get();
  ASSERT_TRUE(first.ok()) << first.status();
  const int64_t end = LogEnd();
  auto again = handler_->LogInteraction(LogRequest("acme", "req-1"), call_).Get();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->interaction().name(), first->interaction().name());
  EXPECT_EQ(again->appended_event_count(), first->appended_event_count());  // the first answer
  EXPECT_EQ(again->consistency_token(), first->consistency_token());
  EXPECT_EQ(LogEnd(), end);
  // The id was derived from the request id, the same on every replica.
  EXPECT_EQ(first->interaction().name(),
            "customers/acme/interactions/" + InteractionIdFor(LogRequest("acme", "req-1")));
}

TEST_F(InteractionCommandHandlerTest, WithoutIdsEachCallLogsANewInteraction) {
  auto a = handler_->LogInteraction(LogRequest(), call_).Get();
  auto b = handler_->LogInteraction(LogRequest(), call_).Get();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->interaction().name(), b->interaction().name());
}

TEST_F(InteractionCommandHandlerTest, ExplicitIdTakenIsAlreadyExists) {
  auto request = LogRequest();
  request.set_interaction_id("dup");
  ASSERT_TRUE(handler_->LogInteraction(request, call_).Get().ok());
  auto again = handler_->LogInteraction(request, call_).Get();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(again.status()), "INTERACTION_ALREADY_EXISTS");
}

TEST_F(InteractionCommandHandlerTest, UnknownCustomerIsNotFoundAndAppendsNothing) {
  const int64_t end = LogEnd();
  auto response = handler_->LogInteraction(LogRequest("nobody"), call_).Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(response.status()), "CUSTOMER_NOT_FOUND");
  EXPECT_EQ(LogEnd(), end);
}

TEST_F(InteractionCommandHandlerTest, StaffMustBeKnownAndActive) {
  auto request = LogRequest();
  request.mutable_interaction()->set_staff_id("ghost");
  auto response = handler_->LogInteraction(request, call_).Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(response.status()), "STAFF_NOT_FOUND");

  request.mutable_interaction()->set_staff_id("old");
  response = handler_->LogInteraction(request, call_).Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(response.status()), "STAFF_INACTIVE");
}

TEST_F(InteractionCommandHandlerTest, StaffAddedAMomentAgoIsFound) {
  // Appended but not waited for: the lookup syncs the org stream before saying "unknown".
  AppendOnly("org", "staff/new", 1, StaffAdded("new"));
  auto request = LogRequest();
  request.mutable_interaction()->set_staff_id("new");
  auto response = handler_->LogInteraction(request, call_).Get();
  ASSERT_TRUE(response.ok()) << response.status();
}

TEST_F(InteractionCommandHandlerTest, LinkedComplaintMustExist) {
  SeedComplaint("acme", "c1");
  auto request = LogRequest();
  request.mutable_interaction()->set_complaint("customers/acme/complaints/c1");
  auto response = handler_->LogInteraction(request, call_).Get();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->interaction().complaint(), "customers/acme/complaints/c1");

  request.mutable_interaction()->set_complaint("customers/acme/complaints/c2");
  response = handler_->LogInteraction(request, call_).Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(response.status()), "COMPLAINT_NOT_FOUND");
  EXPECT_EQ(Meta(response.status(), "field"), "interaction.complaint");
}

TEST_F(InteractionCommandHandlerTest, MalformedTargetListsEveryBadField) {
  const int64_t end = LogEnd();
  auto request = LogRequest();
  request.set_parent("acme");
  request.set_interaction_id("Bad Id");
  request.mutable_interaction()->clear_summary();
  auto response = handler_->LogInteraction(request, call_).Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ViolationFields(response.status()),
            (std::vector<std::string>{"parent", "interaction_id", "interaction.summary"}));

  crm::v1::CompleteFollowUpRequest complete;
  complete.set_name("customers/acme");
  complete.set_etag("x");
  auto completed = handler_->CompleteFollowUp(complete, call_).Get();
  EXPECT_EQ(completed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ViolationFields(completed.status()), (std::vector<std::string>{"name", "etag"}));
  EXPECT_EQ(LogEnd(), end);
}

TEST_F(InteractionCommandHandlerTest, CompleteFollowUpOnceThenFailedPrecondition) {
  auto logged = handler_->LogInteraction(LogRequest(), call_).Get();
  ASSERT_TRUE(logged.ok());
  clock_.Advance(absl::Hours(2));

  crm::v1::CompleteFollowUpRequest request;
  request.set_name(logged->interaction().name());
  request.set_note("Renewal signed");
  request.set_etag("v1");
  request.set_request_id("req-done");
  auto done = handler_->CompleteFollowUp(request, call_).Get();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->interaction().version(), 2);
  EXPECT_EQ(done->interaction().etag(), "v2");
  EXPECT_EQ(done->interaction().follow_up_note(), "Renewal signed");
  EXPECT_TRUE(
      MessageDifferencer::Equals(done->interaction().follow_up_complete_time(), Ts(clock_.Now())));
  EXPECT_EQ(ReadAll(log_).back().follow_up_completed().staff().team(), "teams/care");

  // The same request again: the first answer.
  auto retried = handler_->CompleteFollowUp(request, call_).Get();
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->appended_event_count(), 1);  // the first answer
  EXPECT_EQ(retried->interaction().version(), 2);

  // A new request: stale etag first, then already complete.
  request.set_request_id("req-again");
  auto stale = handler_->CompleteFollowUp(request, call_).Get();
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  request.clear_etag();
  auto twice = handler_->CompleteFollowUp(request, call_).Get();
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(twice.status()), "FOLLOW_UP_ALREADY_COMPLETE");
}

TEST_F(InteractionCommandHandlerTest, CompleteCreditsAnotherStaffMember) {
  SeedStaff("bob");
  auto logged = handler_->LogInteraction(LogRequest(), call_).Get();
  ASSERT_TRUE(logged.ok());
  crm::v1::CompleteFollowUpRequest request;
  request.set_name(logged->interaction().name());
  request.set_staff_id("bob");
  ASSERT_TRUE(handler_->CompleteFollowUp(request, call_).Get().ok());
  EXPECT_EQ(ReadAll(log_).back().follow_up_completed().staff().staff_id(), "bob");
}

TEST_F(InteractionCommandHandlerTest, CompleteWithoutFollowUpOrInteraction) {
  auto request = LogRequest();
  request.mutable_interaction()->clear_follow_up_due_time();
  auto logged = handler_->LogInteraction(request, call_).Get();
  ASSERT_TRUE(logged.ok());
  crm::v1::CompleteFollowUpRequest complete;
  complete.set_name(logged->interaction().name());
  auto response = handler_->CompleteFollowUp(complete, call_).Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(response.status()), "NO_FOLLOW_UP");

  complete.set_name("customers/acme/interactions/nope");
  response = handler_->CompleteFollowUp(complete, call_).Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(response.status()), "INTERACTION_NOT_FOUND");
}

TEST_F(InteractionCommandHandlerTest, InteractionIdFor) {
  crm::v1::LogInteractionRequest request;
  request.set_interaction_id("given");
  EXPECT_EQ(InteractionIdFor(request), "given");
  request.clear_interaction_id();
  request.set_request_id("r1");
  EXPECT_EQ(InteractionIdFor(request), InteractionIdFor(request));
  EXPECT_TRUE(base::IsUuid(InteractionIdFor(request)));
  request.clear_request_id();
  EXPECT_NE(InteractionIdFor(request), InteractionIdFor(request));
}

}  // namespace
}  // namespace crm::services::interaction
