#include "domain/interaction/interaction_aggregate.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status/errors.h"
#include "domain/interaction/event_codec.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::interaction {
namespace {

using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::Meta;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::ViolationFields;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::string_view kCustomer = "acme";
constexpr absl::string_view kParent = "customers/acme";
constexpr absl::string_view kId = "call-1";
constexpr absl::string_view kName = "customers/acme/interactions/call-1";
constexpr absl::string_view kComplaint = "customers/acme/complaints/late-parcel";

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(
      static_cast<int32_t>((t - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
  return ts;
}

crm::v1::StaffRef Ref(absl::string_view id) {
  crm::v1::StaffRef ref;
  ref.set_staff_id(std::string(id));
  ref.set_team("teams/care");
  ref.set_department("departments/service");
  return ref;
}

// A world of customers, staff (id -> active) and complaints for the lookups.
struct World {
  std::set<std::string> customers = {"acme"};
  std::map<std::string, bool> staff = {{"ann", true}, {"bob", true}, {"old", false}};
  std::set<std::string> complaints = {std::string(kComplaint)};
  bool lookups_fail = false;
  mutable std::vector<std::string> staff_fields;  // fields the staff lookup was asked for

  DecideContext Context(absl::Time now = kNow) const {
    DecideContext context;
    context.now = now;
    context.customer_exists = [this](absl::string_view id) -> absl::StatusOr<bool> {
      if (lookups_fail) return absl::UnavailableError("store down");
      return customers.count(std::string(id)) > 0;
    };
    context.staff = [this](absl::string_view id,
                           absl::string_view field) -> absl::StatusOr<crm::v1::StaffRef> {
      staff_fields.push_back(std::string(field));
      if (lookups_fail) return absl::UnavailableError("store down");
      auto it = staff.find(std::string(id));
      if (it == staff.end()) {
        return status::Error(absl::StatusCode::kNotFound, "no such staff", "STAFF_NOT_FOUND",
                             {{"field", std::string(field)}});
      }
      if (!it->second) {
        return status::Error(absl::StatusCode::kFailedPrecondition, "deactivated", "STAFF_INACTIVE",
                             {{"field", std::string(field)}});
      }
      return Ref(id);
    };
    context.complaint_exists = [this](absl::string_view name) -> absl::StatusOr<bool> {
      if (lookups_fail) return absl::UnavailableError("store down");
      return complaints.count(std::string(name)) > 0;
    };
    return context;
  }
};

crm::v1::LogInteractionRequest LogRequest() {
  crm::v1::LogInteractionRequest request;
  request.set_parent(std::string(kParent));
  request.set_request_id("req-1");
  auto* in = request.mutable_interaction();
  in->set_channel(crm::v1::PHONE);
  in->set_direction(crm::v1::INBOUND);
  in->set_staff_id("ann");
  *in->mutable_occurred_at() = Ts(kNow - absl::Hours(2));
  in->set_summary("Asked for a quote on 200 units");
  in->set_outcome("Quote promised by Friday");
  *in->mutable_follow_up_due_time() = Ts(kNow + absl::Hours(48));
  return request;
}

crm::v1::CompleteFollowUpRequest CompleteRequest() {
  crm::v1::CompleteFollowUpRequest request;
  request.set_name(std::string(kName));
  request.set_note("Quote sent");
  request.set_request_id("req-2");
  return request;
}

// Stamps decided events as the command executor would, then applies them.
absl::Status StampAndApply(State& state, const Events& events, absl::Time recorded_at = kNow,
                           absl::string_view aggregate = kName) {
  for (Event event : events) {
    event.set_event_id(absl::StrCat("e", state.version() + 1));
    event.set_customer_id(std::string(kCustomer));
    event.set_aggregate(std::string(aggregate));
    event.set_aggregate_version(state.version() + 1);
    *event.mutable_recorded_at() = Ts(recorded_at);
    if (!event.has_occurred_at()) *event.mutable_occurred_at() = Ts(recorded_at);
    absl::Status applied = Apply(state, event);
    if (!applied.ok()) return applied;
  }
  return absl::OkStatus();
}

State Logged(const World& world, crm::v1::LogInteractionRequest request = LogRequest()) {
  State state;
  auto events = DecideLogInteraction(state, request, kId, world.Context());
  EXPECT_TRUE(events.ok()) << events.status();
  EXPECT_TRUE(StampAndApply(state, *events, kNow).ok());
  return state;
}

// ---------------------------------------------------------------------------------------------
// LogInteraction

TEST(InteractionAggregateTest, LogProducesOneEventWithStaffRefAndBusinessTime) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->set_complaint(std::string(kComplaint));
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  const Event& e = (*events)[0];
  ASSERT_TRUE(e.has_interaction_logged());
  EXPECT_TRUE(MessageDifferencer::Equals(e.occurred_at(), Ts(kNow - absl::Hours(2))));
  const auto& logged = e.interaction_logged();
  EXPECT_TRUE(MessageDifferencer::Equals(ToApi(logged.staff()), Ref("ann")));
  const auto& i = logged.interaction();
  EXPECT_EQ(i.name(), kName);
  EXPECT_EQ(i.channel(), crm::events::v1::PHONE);
  EXPECT_EQ(i.direction(), crm::events::v1::INBOUND);
  EXPECT_EQ(i.staff_id(), "ann");
  EXPECT_EQ(i.summary(), "Asked for a quote on 200 units");
  EXPECT_EQ(i.outcome(), "Quote promised by Friday");
  EXPECT_TRUE(MessageDifferencer::Equals(i.follow_up_due_time(), Ts(kNow + absl::Hours(48))));
  EXPECT_EQ(i.complaint(), kComplaint);
  // Output-only fields are not in the event (crm.events.v1.LoggedInteraction has none).
  EXPECT_THAT(world.staff_fields, ElementsAre("interaction.staff_id"));
}

TEST(InteractionAggregateTest, LogRecordsTheCustomersTierNow) {
  World world;
  DecideContext context = world.Context();
  context.customer_tier = [](absl::string_view id) -> absl::StatusOr<crm::v1::ValueTier> {
    EXPECT_EQ(id, kCustomer);
    return crm::v1::HIGH_VALUE;
  };
  auto events = DecideLogInteraction(State(), LogRequest(), kId, context);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[0].interaction_logged().customer_tier(), crm::events::v1::HIGH_VALUE);
  State state;
  ASSERT_TRUE(StampAndApply(state, *events).ok());
  EXPECT_EQ(state.customer_tier(), crm::v1::HIGH_VALUE);
  // Without the lookup (and in interactions logged before tiers counted): unspecified.
  EXPECT_EQ(Logged(world).customer_tier(), crm::v1::VALUE_TIER_UNSPECIFIED);
  // The lookup's errors propagate; the tier is output only in the request.
  context.customer_tier = [](absl::string_view) -> absl::StatusOr<crm::v1::ValueTier> {
    return absl::UnavailableError("store down");
  };
  EXPECT_EQ(DecideLogInteraction(State(), LogRequest(), kId, context).status().code(),
            absl::StatusCode::kUnavailable);
  auto request = LogRequest();
  request.mutable_interaction()->set_customer_tier(crm::v1::ORDINARY);
  EXPECT_EQ(DecideLogInteraction(State(), request, kId, world.Context()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InteractionAggregateTest, LogIgnoresNameAndTimesFromTheRequest) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->set_name("customers/other/interactions/x");
  *request.mutable_interaction()->mutable_create_time() = Ts(kNow);
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[0].interaction_logged().interaction().name(), kName);
}

TEST(InteractionAggregateTest, LogWithoutFollowUpOrOutcomeIsFine) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->clear_follow_up_due_time();
  request.mutable_interaction()->clear_outcome();
  request.set_request_id("");
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_FALSE((*events)[0].interaction_logged().interaction().has_follow_up_due_time());
}

TEST(InteractionAggregateTest, LogListsEveryBadFieldAtOnce) {
  World world;
  crm::v1::LogInteractionRequest request;
  request.set_parent("acme");
  request.set_request_id(std::string(200, 'x'));
  request.mutable_interaction()->set_version(3);
  request.mutable_interaction()->set_etag("v3");
  request.mutable_interaction()->set_follow_up_note("done");
  *request.mutable_interaction()->mutable_follow_up_complete_time() = Ts(kNow);
  auto events = DecideLogInteraction(State(), request, "Bad_Id", world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      ViolationFields(events.status()),
      ElementsAre("request_id", "parent", "interaction_id", "interaction.channel",
                  "interaction.direction", "interaction.staff_id", "interaction.occurred_at",
                  "interaction.summary", "interaction.follow_up_complete_time",
                  "interaction.follow_up_note", "interaction.version", "interaction.etag"));
  // Field errors come before any lookup.
  EXPECT_THAT(world.staff_fields, IsEmpty());
}

TEST(InteractionAggregateTest, LogRejectsUnknownEnumValues) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->set_channel(static_cast<crm::v1::Channel>(99));
  request.mutable_interaction()->set_direction(static_cast<crm::v1::Direction>(7));
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolationFields(events.status()),
              ElementsAre("interaction.channel", "interaction.direction"));
}

TEST(InteractionAggregateTest, LogAcceptsEveryChannel) {
  World world;
  for (auto channel : {crm::v1::PHONE, crm::v1::EMAIL, crm::v1::ONLINE_CHAT, crm::v1::SOCIAL_MEDIA,
                       crm::v1::VISIT, crm::v1::SMS, crm::v1::OFFLINE_EVENT}) {
    auto request = LogRequest();
    request.mutable_interaction()->set_channel(channel);
    request.mutable_interaction()->set_direction(crm::v1::OUTBOUND);
    EXPECT_TRUE(DecideLogInteraction(State(), request, kId, world.Context()).ok())
        << crm::v1::Channel_Name(channel);
  }
}

TEST(InteractionAggregateTest, OccurredAtMayBeUpToOneDayAhead) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->clear_follow_up_due_time();
  *request.mutable_interaction()->mutable_occurred_at() = Ts(kNow + absl::Hours(24));
  EXPECT_TRUE(DecideLogInteraction(State(), request, kId, world.Context()).ok());

  *request.mutable_interaction()->mutable_occurred_at() =
      Ts(kNow + absl::Hours(24) + absl::Seconds(1));
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FirstField(events.status()), "interaction.occurred_at");
  EXPECT_THAT(events.status().message(), HasSubstr("future"));
}

TEST(InteractionAggregateTest, OccurredAtInThePastIsFine) {
  World world;
  auto request = LogRequest();
  *request.mutable_interaction()->mutable_occurred_at() = Ts(kNow - absl::Hours(24 * 400));
  EXPECT_TRUE(DecideLogInteraction(State(), request, kId, world.Context()).ok());
}

TEST(InteractionAggregateTest, RejectsInvalidTimestamps) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->mutable_occurred_at()->set_nanos(-1);
  request.mutable_interaction()->mutable_follow_up_due_time()->set_seconds(
      300'000'000'000);  // after year 9999
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolationFields(events.status()),
              ElementsAre("interaction.occurred_at", "interaction.follow_up_due_time"));
}

TEST(InteractionAggregateTest, FollowUpMustBeDueAfterOccurredAt) {
  World world;
  auto request = LogRequest();
  *request.mutable_interaction()->mutable_follow_up_due_time() =
      request.interaction().occurred_at();
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolationFields(events.status()), ElementsAre("interaction.follow_up_due_time"));

  // A follow-up already overdue when logged (a past interaction) is allowed.
  *request.mutable_interaction()->mutable_occurred_at() = Ts(kNow - absl::Hours(72));
  *request.mutable_interaction()->mutable_follow_up_due_time() = Ts(kNow - absl::Hours(24));
  EXPECT_TRUE(DecideLogInteraction(State(), request, kId, world.Context()).ok());
}

TEST(InteractionAggregateTest, SummaryIsOneTo2000Characters) {
  World world;
  auto request = LogRequest();
  // 2000 code points of a 3-byte character: counted in characters, not bytes.
  std::string summary;
  for (int i = 0; i < 2000; ++i) summary += "话";
  request.mutable_interaction()->set_summary(summary);
  EXPECT_TRUE(DecideLogInteraction(State(), request, kId, world.Context()).ok());

  request.mutable_interaction()->set_summary(summary + "a");
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  EXPECT_EQ(FirstField(events.status()), "interaction.summary");

  request.mutable_interaction()->set_summary("   ");
  events = DecideLogInteraction(State(), request, kId, world.Context());
  EXPECT_EQ(FirstField(events.status()), "interaction.summary");

  request.mutable_interaction()->set_summary("bell\a");
  events = DecideLogInteraction(State(), request, kId, world.Context());
  EXPECT_EQ(FirstField(events.status()), "interaction.summary");
}

TEST(InteractionAggregateTest, OutcomeIsAtMost2000Characters) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->set_outcome(std::string(2000, 'o'));
  EXPECT_TRUE(DecideLogInteraction(State(), request, kId, world.Context()).ok());
  request.mutable_interaction()->set_outcome(std::string(2001, 'o'));
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  EXPECT_EQ(FirstField(events.status()), "interaction.outcome");
  request.mutable_interaction()->set_outcome("\xff\xfe");
  events = DecideLogInteraction(State(), request, kId, world.Context());
  EXPECT_EQ(FirstField(events.status()), "interaction.outcome");
}

TEST(InteractionAggregateTest, ComplaintMustBeOfTheSameCustomer) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->set_complaint("customers/other/complaints/c1");
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FirstField(events.status()), "interaction.complaint");
  EXPECT_THAT(events.status().message(), HasSubstr("same customer"));

  for (const char* bad : {"complaints/c1", "customers/acme/complaints/", "customers/acme/c/c1",
                          "customers/acme/complaints/C1", "customers/acme/complaints/c1/x",
                          "customers/acme/interactions/c1"}) {
    request.mutable_interaction()->set_complaint(bad);
    events = DecideLogInteraction(State(), request, kId, world.Context());
    ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FirstField(events.status()), "interaction.complaint") << bad;
  }
}

TEST(InteractionAggregateTest, UnknownComplaintIsNotFoundNamingTheField) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->set_complaint("customers/acme/complaints/nope");
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "COMPLAINT_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "interaction.complaint");
  google::rpc::ResourceInfo info;
  ASSERT_TRUE(status::GetDetail(events.status(), &info));
  EXPECT_EQ(info.resource_name(), "customers/acme/complaints/nope");
}

TEST(InteractionAggregateTest, UnknownCustomerIsNotFound) {
  World world;
  world.customers.clear();
  auto events = DecideLogInteraction(State(), LogRequest(), kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "CUSTOMER_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "customer"), "customers/acme");
}

TEST(InteractionAggregateTest, StaffMustBeKnownAndActive) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->set_staff_id("nobody");
  auto events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "STAFF_NOT_FOUND");
  EXPECT_EQ(Meta(events.status(), "field"), "interaction.staff_id");

  request.mutable_interaction()->set_staff_id("old");
  events = DecideLogInteraction(State(), request, kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "STAFF_INACTIVE");
}

TEST(InteractionAggregateTest, LogOverAnExistingInteractionIsAlreadyExists) {
  World world;
  State state = Logged(world);
  auto events = DecideLogInteraction(state, LogRequest(), kId, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(events.status()), "INTERACTION_ALREADY_EXISTS");
}

TEST(InteractionAggregateTest, LookupErrorsPassThrough) {
  World world;
  world.lookups_fail = true;
  auto events = DecideLogInteraction(State(), LogRequest(), kId, world.Context());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kUnavailable);
}

TEST(InteractionAggregateTest, MissingLookupIsInternal) {
  DecideContext context;
  context.now = kNow;
  auto events = DecideLogInteraction(State(), LogRequest(), kId, context);
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInternal);
}

// ---------------------------------------------------------------------------------------------
// Apply

TEST(InteractionAggregateTest, ApplySetsVersionEtagAndTimesFromTheEnvelope) {
  World world;
  State state = Logged(world);
  EXPECT_EQ(state.name(), kName);
  EXPECT_EQ(state.version(), 1);
  EXPECT_EQ(state.etag(), "v1");
  EXPECT_TRUE(MessageDifferencer::Equals(state.create_time(), Ts(kNow)));
  EXPECT_TRUE(MessageDifferencer::Equals(state.update_time(), Ts(kNow)));
  EXPECT_EQ(state.summary(), "Asked for a quote on 200 units");
  EXPECT_EQ(state.staff_id(), "ann");

  auto events = DecideCompleteFollowUp(state, CompleteRequest(), world.Context(kNow));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_TRUE(StampAndApply(state, *events, kNow + absl::Hours(1)).ok());
  EXPECT_EQ(state.version(), 2);
  EXPECT_EQ(state.etag(), "v2");
  EXPECT_TRUE(MessageDifferencer::Equals(state.create_time(), Ts(kNow)));
  EXPECT_TRUE(MessageDifferencer::Equals(state.update_time(), Ts(kNow + absl::Hours(1))));
  EXPECT_TRUE(MessageDifferencer::Equals(state.follow_up_complete_time(), Ts(kNow)));
  EXPECT_EQ(state.follow_up_note(), "Quote sent");
}

// The deadline watcher's reminder: once, from due - lead until due, not for a follow-up done.
TEST(InteractionAggregateTest, RemindFollowUpOnceWithinTheLead) {
  World world;
  State state = Logged(world);  // follow-up due kNow + 48h
  const absl::Time due = kNow + absl::Hours(48);
  const absl::Duration lead = absl::Hours(2);
  EXPECT_THAT(*DecideRemindFollowUp(state, kName, due, lead, due - lead - absl::Seconds(1)),
              IsEmpty());
  EXPECT_THAT(*DecideRemindFollowUp(state, kName, due + absl::Hours(1), lead, due - lead),
              IsEmpty());  // another due time
  EXPECT_THAT(*DecideRemindFollowUp(state, kName, due, lead, due + absl::Seconds(1)),
              IsEmpty());  // passed
  auto events = DecideRemindFollowUp(state, kName, due, lead, due - absl::Minutes(30));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  const Event& e = (*events)[0];
  EXPECT_TRUE(MessageDifferencer::Equals(e.follow_up_due_soon().follow_up_due_time(), Ts(due)));
  EXPECT_EQ(e.follow_up_due_soon().staff_id(), "ann");
  EXPECT_TRUE(MessageDifferencer::Equals(e.occurred_at(), Ts(due - lead)));
  ASSERT_TRUE(StampAndApply(state, *events, due - absl::Minutes(30)).ok());
  EXPECT_TRUE(state.follow_up_reminded());
  EXPECT_EQ(state.version(), 2);
  EXPECT_THAT(*DecideRemindFollowUp(state, kName, due, lead, due - absl::Minutes(10)), IsEmpty());

  State done = Logged(world);
  ASSERT_TRUE(
      StampAndApply(done, *DecideCompleteFollowUp(done, CompleteRequest(), world.Context()), kNow)
          .ok());
  EXPECT_THAT(*DecideRemindFollowUp(done, kName, due, lead, due - absl::Minutes(30)), IsEmpty());
  EXPECT_EQ(DecideRemindFollowUp(State(), kName, due, lead, due).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(DecideRemindFollowUp(state, kName, due, absl::ZeroDuration(), due).status().code(),
            absl::StatusCode::kInvalidArgument);
}

Event LoggedEvent(int64_t version = 1) {
  World world;
  auto events = DecideLogInteraction(State(), LogRequest(), kId, world.Context());
  Event e = (*events)[0];
  e.set_customer_id(std::string(kCustomer));
  e.set_aggregate(std::string(kName));
  e.set_aggregate_version(version);
  *e.mutable_recorded_at() = Ts(kNow);
  return e;
}

TEST(InteractionAggregateTest, ApplyRequiresTheNextVersion) {
  State state;
  absl::Status status = Apply(state, LoggedEvent(2));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(status), "VERSION_MISMATCH");
  EXPECT_EQ(state.version(), 0);  // untouched
  ASSERT_TRUE(Apply(state, LoggedEvent(1)).ok());
  const State before = state;
  status = Apply(state, LoggedEvent(1));
  EXPECT_EQ(Reason(status), "VERSION_MISMATCH");
  EXPECT_TRUE(MessageDifferencer::Equals(state, before));
}

TEST(InteractionAggregateTest, ApplyRequiresLoggedFirstAndOnlyFirst) {
  State state;
  Event completed;
  completed.set_customer_id(std::string(kCustomer));
  completed.set_aggregate(std::string(kName));
  completed.set_aggregate_version(1);
  completed.mutable_follow_up_completed()->set_note("x");
  EXPECT_EQ(Reason(Apply(state, completed)), "EVENT_OUT_OF_ORDER");

  ASSERT_TRUE(Apply(state, LoggedEvent(1)).ok());
  EXPECT_EQ(Reason(Apply(state, LoggedEvent(2))), "EVENT_OUT_OF_ORDER");
  EXPECT_EQ(state.version(), 1);
}

TEST(InteractionAggregateTest, ApplyChecksTheAggregate) {
  State state;
  Event e = LoggedEvent(1);
  e.set_aggregate("customers/other/interactions/call-1");  // customer_id is acme
  EXPECT_EQ(Reason(Apply(state, e)), "AGGREGATE_MISMATCH");
  e.set_aggregate("customers/acme");
  EXPECT_EQ(Reason(Apply(state, e)), "AGGREGATE_MISMATCH");

  ASSERT_TRUE(Apply(state, LoggedEvent(1)).ok());
  Event other;
  other.set_customer_id(std::string(kCustomer));
  other.set_aggregate("customers/acme/interactions/call-2");
  other.set_aggregate_version(2);
  other.mutable_follow_up_completed();
  EXPECT_EQ(Reason(Apply(state, other)), "AGGREGATE_MISMATCH");
}

TEST(InteractionAggregateTest, ApplyRejectsForeignAndEmptyPayloads) {
  State state;
  Event empty;
  EXPECT_EQ(Apply(state, empty).code(), absl::StatusCode::kDataLoss);
  Event foreign;
  foreign.set_customer_id(std::string(kCustomer));
  foreign.set_aggregate(std::string(kCustomer));
  foreign.set_aggregate_version(1);
  foreign.mutable_complaint_closed();
  EXPECT_EQ(Apply(state, foreign).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(IsInteractionEvent(foreign));
  EXPECT_TRUE(IsInteractionEvent(LoggedEvent()));
}

// ---------------------------------------------------------------------------------------------
// CompleteFollowUp

TEST(InteractionAggregateTest, CompleteCreditsTheInteractionsStaffByDefault) {
  World world;
  State state = Logged(world);
  world.staff_fields.clear();
  auto events =
      DecideCompleteFollowUp(state, CompleteRequest(), world.Context(kNow + absl::Hours(3)));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  const auto& completed = (*events)[0].follow_up_completed();
  EXPECT_TRUE(MessageDifferencer::Equals(completed.complete_time(), Ts(kNow + absl::Hours(3))));
  EXPECT_EQ(completed.note(), "Quote sent");
  EXPECT_TRUE(MessageDifferencer::Equals(ToApi(completed.staff()), Ref("ann")));
  EXPECT_FALSE((*events)[0].has_occurred_at());  // recorded_at is the business time
}

TEST(InteractionAggregateTest, CompleteCreditsTheGivenStaffMember) {
  World world;
  State state = Logged(world);
  auto request = CompleteRequest();
  request.set_staff_id("bob");
  auto events = DecideCompleteFollowUp(state, request, world.Context());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[0].follow_up_completed().staff().staff_id(), "bob");

  request.set_staff_id("old");
  events = DecideCompleteFollowUp(state, request, world.Context());
  EXPECT_EQ(Reason(events.status()), "STAFF_INACTIVE");
  request.set_staff_id("nobody");
  events = DecideCompleteFollowUp(state, request, world.Context());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Meta(events.status(), "field"), "staff_id");
}

TEST(InteractionAggregateTest, CompleteByDefaultStillWorksWhenTheStaffMemberLeft) {
  World world;
  State state = Logged(world);
  world.staff["ann"] = false;
  auto events = DecideCompleteFollowUp(state, CompleteRequest(), world.Context());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[0].follow_up_completed().staff().staff_id(), "ann");
  EXPECT_TRUE((*events)[0].follow_up_completed().staff().team().empty());

  world.lookups_fail = true;
  events = DecideCompleteFollowUp(state, CompleteRequest(), world.Context());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kUnavailable);
}

TEST(InteractionAggregateTest, CompleteWithoutFollowUpIsFailedPrecondition) {
  World world;
  auto request = LogRequest();
  request.mutable_interaction()->clear_follow_up_due_time();
  State state = Logged(world, request);
  auto events = DecideCompleteFollowUp(state, CompleteRequest(), world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "NO_FOLLOW_UP");
}

TEST(InteractionAggregateTest, CompleteTwiceIsFailedPrecondition) {
  World world;
  State state = Logged(world);
  auto events = DecideCompleteFollowUp(state, CompleteRequest(), world.Context());
  ASSERT_TRUE(events.ok());
  ASSERT_TRUE(StampAndApply(state, *events).ok());
  events = DecideCompleteFollowUp(state, CompleteRequest(), world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(events.status()), "FOLLOW_UP_ALREADY_COMPLETE");
  EXPECT_NE(Meta(events.status(), "follow_up_complete_time"), "<unset>");
}

TEST(InteractionAggregateTest, CompleteOfUnknownInteractionIsNotFound) {
  World world;
  auto events = DecideCompleteFollowUp(State(), CompleteRequest(), world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(events.status()), "INTERACTION_NOT_FOUND");
}

TEST(InteractionAggregateTest, CompleteChecksTheEtag) {
  World world;
  State state = Logged(world);
  auto request = CompleteRequest();
  request.set_etag("v2");
  auto events = DecideCompleteFollowUp(state, request, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Reason(events.status()), "ETAG_MISMATCH");
  EXPECT_EQ(Meta(events.status(), "current_etag"), "v1");
  request.set_etag("v1");
  EXPECT_TRUE(DecideCompleteFollowUp(state, request, world.Context()).ok());
}

TEST(InteractionAggregateTest, CompleteListsBadFields) {
  World world;
  crm::v1::CompleteFollowUpRequest request;
  request.set_name("customers/acme/complaints/x");
  request.set_etag("7");
  request.set_note(std::string(2001, 'n'));
  request.set_staff_id("no spaces");
  auto events = DecideCompleteFollowUp(State(), request, world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolationFields(events.status()), ElementsAre("name", "etag", "note", "staff_id"));
}

// ---------------------------------------------------------------------------------------------
// Names

TEST(InteractionAggregateTest, Names) {
  EXPECT_EQ(InteractionName("acme", "x1"), "customers/acme/interactions/x1");
  auto parsed = ParseInteractionName("customers/acme/interactions/x1", "name");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->customer_id, "acme");
  EXPECT_EQ(parsed->id, "x1");
  auto complaint = ParseComplaintName(kComplaint, "c");
  ASSERT_TRUE(complaint.ok());
  EXPECT_EQ(complaint->id, "late-parcel");
  for (const char* bad :
       {"", "customers/acme", "customers/acme/interactions/-x", "customers/Acme/interactions/x",
        "customers//interactions/x", "customers/acme/interactions/x/y"}) {
    auto r = ParseInteractionName(bad, "name");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FirstField(r.status()), "name") << bad;
  }
  EXPECT_EQ(*ParseEtag("v12", "etag"), 12);
  EXPECT_FALSE(ParseEtag("v", "etag").ok());
  EXPECT_FALSE(ParseEtag("12", "etag").ok());
  EXPECT_FALSE(ParseEtag("v-1", "etag").ok());
  EXPECT_EQ(Etag(3), "v3");
}

}  // namespace
}  // namespace crm::domain::interaction
