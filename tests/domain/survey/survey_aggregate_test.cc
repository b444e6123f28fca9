#include "domain/survey/survey_aggregate.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::survey {
namespace {

using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::Meta;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::ViolationFields;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::string_view kCustomer = "acme";
constexpr absl::string_view kName = "customers/acme/surveys/s1";
constexpr absl::string_view kComplaint = "customers/acme/complaints/late-parcel";
constexpr absl::string_view kInteraction = "customers/acme/interactions/call-1";

struct World {
  std::set<std::string> customers = {"acme"};
  std::map<std::string, bool> staff = {{"ann", true}, {"old", false}};
  std::set<std::string> links = {std::string(kComplaint), std::string(kInteraction)};
  crm::v1::ValueTier tier = crm::v1::HIGH_VALUE;

  DecideContext Context(absl::Time now = kNow) const {
    DecideContext context;
    context.now = now;
    context.customer_exists = [this](absl::string_view id) -> absl::StatusOr<bool> {
      return customers.count(std::string(id)) > 0;
    };
    context.staff = [this](absl::string_view id,
                           absl::string_view field) -> absl::StatusOr<crm::v1::StaffRef> {
      auto it = staff.find(std::string(id));
      if (it == staff.end()) {
        return status::Error(absl::StatusCode::kNotFound, "no such staff", "STAFF_NOT_FOUND",
                             {{"field", std::string(field)}});
      }
      if (!it->second) {
        return status::Error(absl::StatusCode::kFailedPrecondition, "deactivated", "STAFF_INACTIVE",
                             {{"field", std::string(field)}});
      }
      crm::v1::StaffRef ref;
      ref.set_staff_id(std::string(id));
      ref.set_team("teams/care");
      ref.set_department("departments/service");
      return ref;
    };
    auto exists = [this](absl::string_view name) -> absl::StatusOr<bool> {
      return links.count(std::string(name)) > 0;
    };
    context.complaint_exists = exists;
    context.interaction_exists = exists;
    context.customer_tier = [this](absl::string_view) -> absl::StatusOr<crm::v1::ValueTier> {
      return tier;
    };
    return context;
  }
};

crm::v1::SendSurveyRequest SendRequest() {
  crm::v1::SendSurveyRequest request;
  request.set_parent("customers/acme");
  request.set_request_id("r-1");
  request.mutable_survey()->set_channel(crm::v1::SURVEY_CHANNEL_EMAIL);
  request.mutable_survey()->set_staff_id("ann");
  return request;
}

crm::v1::RecordSurveyAnswerRequest AnswerRequest(std::optional<int> csat, std::optional<int> nps) {
  crm::v1::RecordSurveyAnswerRequest request;
  request.set_name(std::string(kName));
  if (csat.has_value()) request.set_csat(*csat);
  if (nps.has_value()) request.set_nps(*nps);
  request.set_comment("quick and friendly");
  return request;
}

// Stamps decided events as the command executor would, then applies them.
absl::Status StampAndApply(State& state, const Events& events, absl::Time recorded_at = kNow) {
  for (Event event : events) {
    event.set_event_id(absl::StrCat("e", state.version() + 1));
    event.set_customer_id(std::string(kCustomer));
    event.set_aggregate(std::string(kName));
    event.set_aggregate_version(state.version() + 1);
    *event.mutable_recorded_at() = base::ToTimestamp(recorded_at);
    if (!event.has_occurred_at()) *event.mutable_occurred_at() = base::ToTimestamp(recorded_at);
    absl::Status applied = Apply(state, event);
    if (!applied.ok()) return applied;
  }
  return absl::OkStatus();
}

State Sent(const World& world, crm::v1::SendSurveyRequest request = SendRequest()) {
  State state;
  auto events = DecideSendSurvey(state, request, "s1", world.Context());
  EXPECT_TRUE(events.ok()) << events.status();
  EXPECT_TRUE(StampAndApply(state, *events).ok());
  return state;
}

TEST(SurveyAggregateTest, SendRecordsStaffPlaceTierAndDefaultDeadline) {
  World world;
  auto request = SendRequest();
  request.mutable_survey()->set_complaint(std::string(kComplaint));
  request.mutable_survey()->set_interaction(std::string(kInteraction));
  auto events = DecideSendSurvey(State(), request, "s1", world.Context());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_THAT(*events, SizeIs(1));
  const auto& sent = (*events)[0].survey_sent();
  EXPECT_EQ(sent.name(), kName);
  EXPECT_EQ(sent.channel(), crm::events::v1::SURVEY_CHANNEL_EMAIL);
  EXPECT_EQ(sent.staff().team(), "teams/care");
  EXPECT_EQ(sent.staff().department(), "departments/service");
  EXPECT_EQ(sent.customer_tier(), crm::events::v1::HIGH_VALUE);
  EXPECT_EQ(base::ToTime(sent.answer_due_time()), kNow + absl::Hours(24 * 7));

  State state;
  ASSERT_TRUE(StampAndApply(state, *events).ok());
  EXPECT_EQ(state.name(), kName);
  EXPECT_EQ(state.state(), crm::v1::SURVEY_AWAITING_ANSWER);
  EXPECT_EQ(state.complaint(), kComplaint);
  EXPECT_EQ(state.interaction(), kInteraction);
  EXPECT_EQ(state.staff_id(), "ann");
  EXPECT_EQ(state.customer_tier(), crm::v1::HIGH_VALUE);
  EXPECT_EQ(state.version(), 1);
  EXPECT_EQ(state.etag(), "v1");
  EXPECT_EQ(OpenDeadline(state), kNow + absl::Hours(24 * 7));
}

TEST(SurveyAggregateTest, SendListsEveryBadField) {
  World world;
  crm::v1::SendSurveyRequest request;
  request.set_parent("customers/Bad Id");
  request.mutable_survey()->set_complaint("customers/other/complaints/x");
  *request.mutable_survey()->mutable_answer_due_time() = base::ToTimestamp(kNow - absl::Hours(1));
  request.mutable_survey()->set_csat(3);
  request.mutable_survey()->set_state(crm::v1::SURVEY_ANSWERED);
  auto events = DecideSendSurvey(State(), request, "s1", world.Context());
  ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolationFields(events.status()),
              UnorderedElementsAre("parent", "survey.channel", "survey.staff_id",
                                   "survey.answer_due_time", "survey.csat", "survey.state"));

  auto far = SendRequest();
  *far.mutable_survey()->mutable_answer_due_time() = base::ToTimestamp(kNow + absl::Hours(24 * 91));
  EXPECT_EQ(FirstField(DecideSendSurvey(State(), far, "s1", world.Context()).status()),
            "survey.answer_due_time");
  auto other = SendRequest();
  other.mutable_survey()->set_complaint("customers/other/complaints/x");
  EXPECT_EQ(FirstField(DecideSendSurvey(State(), other, "s1", world.Context()).status()),
            "survey.complaint");
}

TEST(SurveyAggregateTest, SendChecksTheCustomerTheStaffAndTheLinks) {
  World world;
  auto unknown = SendRequest();
  unknown.set_parent("customers/nobody");
  auto status = DecideSendSurvey(State(), unknown, "s1", world.Context()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(status), "CUSTOMER_NOT_FOUND");

  auto inactive = SendRequest();
  inactive.mutable_survey()->set_staff_id("old");
  EXPECT_EQ(DecideSendSurvey(State(), inactive, "s1", world.Context()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto missing = SendRequest();
  missing.mutable_survey()->set_interaction("customers/acme/interactions/none");
  status = DecideSendSurvey(State(), missing, "s1", world.Context()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(status), "INTERACTION_NOT_FOUND");
  EXPECT_EQ(Meta(status, "field"), "survey.interaction");

  const State state = Sent(world);
  status = DecideSendSurvey(state, SendRequest(), "s1", world.Context()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(status), "SURVEY_ALREADY_EXISTS");
}

TEST(SurveyAggregateTest, AnswerRecordsScoresOnce) {
  World world;
  State state = Sent(world);
  auto events =
      DecideRecordSurveyAnswer(state, AnswerRequest(4, 0), world.Context(kNow + absl::Hours(1)));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_TRUE(StampAndApply(state, *events, kNow + absl::Hours(1)).ok());
  EXPECT_EQ(state.state(), crm::v1::SURVEY_ANSWERED);
  EXPECT_EQ(state.csat(), 4);
  ASSERT_TRUE(state.has_nps());
  EXPECT_EQ(state.nps(), 0);  // zero is an answer, not "none"
  EXPECT_EQ(state.comment(), "quick and friendly");
  EXPECT_EQ(base::ToTime(state.answer_time()), kNow + absl::Hours(1));
  EXPECT_EQ(OpenDeadline(state), std::nullopt);

  auto again = DecideRecordSurveyAnswer(state, AnswerRequest(5, std::nullopt),
                                        world.Context(kNow + absl::Hours(2)));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(again.status()), "SURVEY_ALREADY_ANSWERED");
  // Nor does an answered survey expire.
  auto expired = DecideExpireSurvey(state, kNow + absl::Hours(24 * 7),
                                    world.Context(kNow + absl::Hours(24 * 8)));
  ASSERT_TRUE(expired.ok());
  EXPECT_THAT(*expired, IsEmpty());
}

TEST(SurveyAggregateTest, AnswerOnlyCsatOrOnlyNps) {
  World world;
  State csat_only = Sent(world);
  auto events =
      DecideRecordSurveyAnswer(csat_only, AnswerRequest(1, std::nullopt), world.Context());
  ASSERT_TRUE(events.ok());
  ASSERT_TRUE(StampAndApply(csat_only, *events).ok());
  EXPECT_FALSE(csat_only.has_nps());
  EXPECT_EQ(csat_only.csat(), 1);

  State nps_only = Sent(world);
  events = DecideRecordSurveyAnswer(nps_only, AnswerRequest(std::nullopt, 10), world.Context());
  ASSERT_TRUE(events.ok());
  ASSERT_TRUE(StampAndApply(nps_only, *events).ok());
  EXPECT_FALSE(nps_only.has_csat());
  EXPECT_EQ(nps_only.nps(), 10);
}

TEST(SurveyAggregateTest, AnswerOutOfRangeIsRefused) {
  World world;
  const State state = Sent(world);
  struct Case {
    std::optional<int> csat, nps;
    std::vector<std::string> fields;
  };
  for (const Case& c : std::vector<Case>{{0, std::nullopt, {"csat"}},
                                         {6, std::nullopt, {"csat"}},
                                         {std::nullopt, 11, {"nps"}},
                                         {std::nullopt, -1, {"nps"}},
                                         {std::nullopt, std::nullopt, {"csat"}},
                                         {0, 11, {"csat", "nps"}}}) {
    auto events = DecideRecordSurveyAnswer(state, AnswerRequest(c.csat, c.nps), world.Context());
    ASSERT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ViolationFields(events.status()), c.fields);
  }
  auto long_comment = AnswerRequest(3, std::nullopt);
  long_comment.set_comment(std::string(2001, 'x'));
  EXPECT_EQ(FirstField(DecideRecordSurveyAnswer(state, long_comment, world.Context()).status()),
            "comment");
}

TEST(SurveyAggregateTest, AnswerAtOrAfterTheDeadlineIsExpired) {
  World world;
  const State state = Sent(world);
  const absl::Time due = kNow + absl::Hours(24 * 7);
  auto late = DecideRecordSurveyAnswer(state, AnswerRequest(5, std::nullopt), world.Context(due));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(late.status()), "SURVEY_EXPIRED");
  auto unknown = DecideRecordSurveyAnswer(State(), AnswerRequest(5, std::nullopt), world.Context());
  EXPECT_EQ(Reason(unknown.status()), "SURVEY_NOT_FOUND");
  auto stale = AnswerRequest(5, std::nullopt);
  stale.set_etag("v7");
  EXPECT_EQ(DecideRecordSurveyAnswer(state, stale, world.Context()).status().code(),
            absl::StatusCode::kAborted);
}

TEST(SurveyAggregateTest, ExpireOnlyOnceAndOnlyWhenDue) {
  World world;
  State state = Sent(world);
  const absl::Time due = kNow + absl::Hours(24 * 7);
  auto early = DecideExpireSurvey(state, due, world.Context(due - absl::Seconds(1)));
  ASSERT_TRUE(early.ok());
  EXPECT_THAT(*early, IsEmpty());
  auto wrong_due =
      DecideExpireSurvey(state, due + absl::Hours(1), world.Context(due + absl::Hours(2)));
  ASSERT_TRUE(wrong_due.ok());
  EXPECT_THAT(*wrong_due, IsEmpty());

  auto events = DecideExpireSurvey(state, due, world.Context(due));
  ASSERT_TRUE(events.ok());
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ(base::ToTime((*events)[0].occurred_at()), due);
  ASSERT_TRUE(StampAndApply(state, *events, due + absl::Seconds(3)).ok());
  EXPECT_EQ(state.state(), crm::v1::SURVEY_EXPIRED);
  EXPECT_EQ(OpenDeadline(state), std::nullopt);

  auto twice = DecideExpireSurvey(state, due, world.Context(due + absl::Hours(1)));
  ASSERT_TRUE(twice.ok());
  EXPECT_THAT(*twice, IsEmpty());
  auto answer = DecideRecordSurveyAnswer(state, AnswerRequest(5, std::nullopt),
                                         world.Context(kNow + absl::Hours(1)));
  EXPECT_EQ(Reason(answer.status()), "SURVEY_EXPIRED");
}

TEST(SurveyAggregateTest, ApplyIsStrict) {
  World world;
  State state = Sent(world);
  Event answered;
  answered.mutable_survey_answered()->set_csat(5);
  ASSERT_TRUE(StampAndApply(state, {answered}).ok());
  Event expired;
  expired.mutable_survey_expired();
  // Nothing follows an answer.
  EXPECT_EQ(StampAndApply(state, {expired}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(state.version(), 2);
  // SurveySent only first.
  Event sent;
  sent.mutable_survey_sent()->set_name(std::string(kName));
  State fresh = Sent(world);
  EXPECT_EQ(StampAndApply(fresh, {sent}).code(), absl::StatusCode::kFailedPrecondition);
  // Versions in order.
  Event skipped = answered;
  skipped.set_customer_id(std::string(kCustomer));
  skipped.set_aggregate(std::string(kName));
  skipped.set_aggregate_version(5);
  EXPECT_EQ(Apply(fresh, skipped).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SurveyAggregateTest, Names) {
  EXPECT_EQ(SurveyName("acme", "s1"), kName);
  auto parsed = ParseSurveyName(kName, "name");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->customer_id, "acme");
  EXPECT_EQ(parsed->id, "s1");
  EXPECT_FALSE(ParseSurveyName("customers/acme/interactions/s1", "name").ok());
  EXPECT_FALSE(ParseSurveyName("customers/acme/surveys/", "name").ok());
}

TEST(SurveyAggregateTest, ChannelCodecByNumber) {
  for (int v = crm::v1::SurveyChannel_MIN; v <= crm::v1::SurveyChannel_MAX; ++v) {
    const auto api = static_cast<crm::v1::SurveyChannel>(v);
    EXPECT_EQ(crm::events::v1::SurveyChannel_Name(ToEvent(api)), crm::v1::SurveyChannel_Name(api));
    EXPECT_EQ(ToApi(ToEvent(api)), api);
  }
}

}  // namespace
}  // namespace crm::domain::survey
