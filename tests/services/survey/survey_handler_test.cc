// The survey command side and views wired as the processes wire them
// (tests/services/command/command_views_env.h) with the survey kind and fold, the
// SurveyCommandHandler, the deadline watcher with the survey source on the fake clock, and the
// survey queries.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/survey/survey_fold.h"
#include "services/command/deadline_watcher.h"
#include "services/survey/survey_command_handler.h"
#include "services/survey/survey_deadlines.h"
#include "services/survey/survey_kind.h"
#include "services/survey/survey_query_service.h"
#include "tests/domain/customer/status_test_util.h"
#include "tests/services/command/command_views_env.h"

namespace crm::services::survey {
namespace {

using ::crm::domain::customer::testing::Reason;
using crm::events::v1::EventEnvelope;
using ::testing::SizeIs;

class SurveyHandlerTest : public services::testing::CommandViewsEnv {
 protected:
  SurveyHandlerTest() : CommandViewsEnv("survey", {&SurveyKind()}, {&survey_fold_}) {}

  void SetUp() override {
    CommandViewsEnv::SetUp();
    handler_ = std::make_unique<SurveyCommandHandler>(executor_.get());
    deadlines_ = std::make_unique<SurveyDeadlines>(handler_.get());
    watcher_ = std::make_unique<command::DeadlineWatcher>(
        std::vector<const command::DeadlineSource*>{deadlines_.get()}, state_store_.get(), &clock_,
        nullptr, command::DeadlineWatcher::Options{});
    queries_ = std::make_unique<SurveyQueries>(views_store_.get(), views_runner_.get(),
                                               SurveyQueries::Options{});
    SeedCustomer("acme");
    SeedStaff("ann");
  }
  void TearDown() override {
    watcher_.reset();
    deadlines_.reset();
    handler_.reset();
    queries_.reset();
    CommandViewsEnv::TearDown();
  }

  absl::StatusOr<crm::v1::SurveyCommandResponse> Send(const std::string& id,
                                                      const std::string& request_id = "") {
    crm::v1::SendSurveyRequest request;
    request.set_parent("customers/acme");
    request.set_survey_id(id);
    request.set_request_id(request_id);
    request.mutable_survey()->set_channel(crm::v1::SURVEY_CHANNEL_QUESTIONNAIRE);
    request.mutable_survey()->set_staff_id("ann");
    *request.mutable_survey()->mutable_answer_due_time() =
        base::ToTimestamp(clock_.Now() + absl::Hours(48));
    return handler_->SendSurvey(request, call_).Get();
  }

  absl::StatusOr<crm::v1::SurveyCommandResponse> Answer(const std::string& id, int csat) {
    crm::v1::RecordSurveyAnswerRequest request;
    request.set_name("customers/acme/surveys/" + id);
    request.set_csat(csat);
    return handler_->RecordSurveyAnswer(request, call_).Get();
  }

  crm::v1::Survey View(const std::string& id, const std::string& token) {
    crm::v1::GetSurveyRequest request;
    request.set_name("customers/acme/surveys/" + id);
    request.set_consistency_token(token);
    auto got = queries_->Get(request, call_);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : crm::v1::Survey();
  }

  projections::survey::SurveyFold survey_fold_;
  std::unique_ptr<SurveyCommandHandler> handler_;
  std::unique_ptr<SurveyDeadlines> deadlines_;
  std::unique_ptr<command::DeadlineWatcher> watcher_;
  std::unique_ptr<SurveyQueries> queries_;
};

TEST_F(SurveyHandlerTest, SendAnswerAndReadBack) {
  auto sent = Send("s1", "req-1");
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->appended_event_count(), 1);
  EXPECT_EQ(sent->survey().staff().team(), "teams/care");
  EXPECT_EQ(sent->survey().customer_tier(), crm::v1::POTENTIAL_VALUE);
  // A retry answers the first answer.
  auto retried = Send("s1", "req-1");
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->consistency_token(), sent->consistency_token());

  auto answered = Answer("s1", 5);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->survey().state(), crm::v1::SURVEY_ANSWERED);
  const crm::v1::Survey view = View("s1", answered->consistency_token());
  EXPECT_EQ(view.csat(), 5);
  EXPECT_EQ(view.version(), 2);

  auto twice = Answer("s1", 4);
  EXPECT_EQ(Reason(twice.status()), "SURVEY_ALREADY_ANSWERED");

  crm::v1::GetSurveyStatsRequest stats_request;
  stats_request.set_consistency_token(answered->consistency_token());
  auto stats = queries_->Stats(stats_request, call_);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->total().sent(), 1);
  EXPECT_EQ(stats->total().answered(), 1);
  EXPECT_DOUBLE_EQ(stats->total().csat_mean(), 5.0);
  ASSERT_THAT(stats->by_team(), SizeIs(1));
  EXPECT_EQ(stats->by_team(0).team(), "teams/care");
}

TEST_F(SurveyHandlerTest, UnknownCustomerAndLinks) {
  crm::v1::SendSurveyRequest request;
  request.set_parent("customers/nobody");
  request.mutable_survey()->set_channel(crm::v1::SURVEY_CHANNEL_EMAIL);
  request.mutable_survey()->set_staff_id("ann");
  EXPECT_EQ(Reason(handler_->SendSurvey(request, call_).Get().status()), "CUSTOMER_NOT_FOUND");
  request.set_parent("customers/acme");
  request.mutable_survey()->set_complaint("customers/acme/complaints/none");
  EXPECT_EQ(Reason(handler_->SendSurvey(request, call_).Get().status()), "COMPLAINT_NOT_FOUND");
}

TEST_F(SurveyHandlerTest, TheWatcherExpiresOnceWhenDue) {
  auto sent = Send("s1");
  ASSERT_TRUE(sent.ok());
  ASSERT_TRUE(Send("s2").ok());
  ASSERT_TRUE(Answer("s2", 3).ok());
  ASSERT_TRUE(watcher_->RunOnce().ok());
  clock_.Advance(absl::Hours(48) - absl::Seconds(1));
  ASSERT_TRUE(watcher_->RunOnce().ok());
  EXPECT_EQ(aggregate_state_->Get<crm::v1::Survey>("customers/acme/surveys/s1")->version, 1);

  clock_.Advance(absl::Seconds(1));
  auto late = Answer("s1", 5);
  EXPECT_EQ(Reason(late.status()), "SURVEY_EXPIRED");
  ASSERT_TRUE(watcher_->RunOnce().ok());
  ASSERT_TRUE(watcher_->RunOnce().ok());
  auto state = aggregate_state_->Get<crm::v1::Survey>("customers/acme/surveys/s1");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->version, 2);
  EXPECT_EQ(state->state.state(), crm::v1::SURVEY_EXPIRED);
  // The answered survey is untouched and the deadline index is empty.
  EXPECT_EQ(aggregate_state_->Get<crm::v1::Survey>("customers/acme/surveys/s2")->version, 2);
  size_t entries = 0;
  ASSERT_TRUE(state_store_
                  ->ScanPrefix(kDeadlinePrefix, "", 0,
                               [&](absl::string_view, absl::string_view) {
                                 ++entries;
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(entries, 0u);

  const crm::v1::Survey view = View("s1", state->consistency_token);
  EXPECT_EQ(view.state(), crm::v1::SURVEY_EXPIRED);
  crm::v1::ListSurveysRequest list;
  list.set_parent("customers/acme");
  list.set_page_size(1);
  list.set_state(crm::v1::SURVEY_EXPIRED);
  list.set_consistency_token(state->consistency_token);
  auto page = queries_->List(list, call_);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->surveys(), SizeIs(1));
  EXPECT_EQ(page->surveys(0).name(), "customers/acme/surveys/s1");
  EXPECT_TRUE(page->next_page_token().empty());
}

TEST(SurveyDeadlineKeyTest, RoundTrip) {
  const absl::Time due = absl::FromUnixMicros(1'700'000'000'123'456);
  const std::string key = DeadlineKey(due, "customers/acme/surveys/s1");
  auto entry = ParseDeadlineKey(key);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->survey, "customers/acme/surveys/s1");
  EXPECT_EQ(entry->customer_id, "acme");
  EXPECT_EQ(entry->due, due);
  EXPECT_FALSE(ParseDeadlineKey("survey-due/123/customers/acme/surveys/s1").ok());
  EXPECT_NE(SurveyDeadlines::RequestIdFor("customers/acme/surveys/s1", due),
            SurveyDeadlines::RequestIdFor("customers/acme/surveys/s2", due));
}

}  // namespace
}  // namespace crm::services::survey
