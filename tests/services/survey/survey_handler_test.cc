// The survey command side and views wired as the processes wire them: one InMemoryEventLog, a
// command-state store folded over the survey, customer, staff, complaint and interaction kinds,
// a CommandExecutor with the SurveyCommandHandler, the deadline watcher with the survey source on
// a fake clock, and a views store folded by the customer and survey folds.
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/time_util.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/org/org_aggregate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/customer/customer_view_fold.h"
#include "projections/survey/survey_fold.h"
#include "services/command/deadline_watcher.h"
#include "services/customer/customer_kind.h"
#include "services/interaction/interaction_kind.h"
#include "services/survey/survey_command_handler.h"
#include "services/survey/survey_deadlines.h"
#include "services/survey/survey_kind.h"
#include "services/survey/survey_query_service.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::services::survey {
namespace {

using ::crm::domain::customer::testing::Reason;
using crm::events::v1::EventEnvelope;
using ::testing::SizeIs;

class SurveyHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("survey-" + base::NewUuid());
    state_store_ = *kv::KvStore::Open((dir_ / "state").string());
    views_store_ = *kv::KvStore::Open((dir_ / "views").string());
    state_runner_ = std::make_unique<fold::FoldRunner>(&log_, state_store_.get(), &state_fold_,
                                                       fold::FoldRunner::Options{.name = "state"});
    views_runner_ = std::make_unique<fold::FoldRunner>(
        &log_, views_store_.get(), std::vector<fold::Fold*>{&customer_fold_, &survey_fold_},
        fold::FoldRunner::Options{.name = "views"});
    aggregate_state_ = std::make_unique<command::AggregateState>(state_store_.get());
    ASSERT_TRUE(state_runner_->Start().ok());
    ASSERT_TRUE(views_runner_->Start().ok());
    executor_ = std::make_unique<command::CommandExecutor>(&log_, state_runner_.get(),
                                                           aggregate_state_.get(), &clock_,
                                                           command::CommandExecutor::Options{});
    handler_ = std::make_unique<SurveyCommandHandler>(executor_.get());
    deadlines_ = std::make_unique<SurveyDeadlines>(handler_.get());
    watcher_ = std::make_unique<command::DeadlineWatcher>(
        std::vector<const command::DeadlineSource*>{deadlines_.get()}, state_store_.get(), &clock_,
        nullptr, command::DeadlineWatcher::Options{});
    queries_ = std::make_unique<SurveyQueries>(views_store_.get(), views_runner_.get(),
                                               SurveyQueries::Options{});
    Seed("acme", "acme", "customers/acme", 1, [] {
      EventEnvelope e;
      e.mutable_customer_registered()->mutable_profile()->set_display_name("Acme");
      e.mutable_customer_registered()->mutable_profile()->set_kind(crm::events::v1::COMPANY);
      e.mutable_customer_registered()->set_lifecycle_stage(crm::events::v1::POTENTIAL);
      return e;
    }());
    EventEnvelope staff;
    auto* s = staff.mutable_staff_added()->mutable_staff();
    s->set_name("staff/ann");
    s->set_display_name("Ann");
    s->set_role(crm::events::v1::CUSTOMER_REPRESENTATIVE);
    s->set_level(crm::events::v1::FRONT_LINE);
    s->set_department("departments/service");
    s->set_team("teams/care");
    s->set_active(true);
    Seed("org", "", "staff/ann", 1, staff);
  }
  void TearDown() override {
    watcher_.reset();
    deadlines_.reset();
    handler_.reset();
    executor_.reset();
    queries_.reset();
    views_runner_.reset();
    state_runner_.reset();
    aggregate_state_.reset();
    state_store_.reset();
    views_store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Seed(const std::string& key, const std::string& customer_id, const std::string& aggregate,
            int64_t version, EventEnvelope e) {
    e.set_event_id(base::NewUuid());
    e.set_customer_id(customer_id);
    e.set_aggregate(aggregate);
    e.set_aggregate_version(version);
    *e.mutable_recorded_at() = base::ToTimestamp(clock_.Now());
    *e.mutable_occurred_at() = e.recorded_at();
    e.set_event_type(command::EventTypeName(e));
    e.set_schema_version(1);
    auto position = log_.Append(key, {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(position.ok());
    const eventlog::PositionMap at = {{position->partition, position->offset}};
    ASSERT_TRUE(state_runner_->WaitFor(at, absl::Now() + absl::Seconds(10)).ok());
    ASSERT_TRUE(views_runner_->WaitFor(at, absl::Now() + absl::Seconds(10)).ok());
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

  std::filesystem::path dir_;
  base::FakeClock clock_;
  eventlog::InMemoryEventLog log_;
  command::TypedKind<crm::v1::Staff> staff_kind_{&domain::org::IsStaffEvent,
                                                 &domain::org::ApplyStaff};
  command::TypedKind<crm::v1::Complaint> complaint_kind_{&domain::complaint::IsComplaintEvent,
                                                         &domain::complaint::Apply};
  command::AggregateStateFold state_fold_{{&SurveyKind(), &staff_kind_, &complaint_kind_,
                                           &interaction::InteractionKind(),
                                           &customer::CustomerKind()}};
  projections::customer::CustomerViewFold customer_fold_;
  projections::survey::SurveyFold survey_fold_;
  std::unique_ptr<kv::KvStore> state_store_;
  std::unique_ptr<kv::KvStore> views_store_;
  std::unique_ptr<fold::FoldRunner> state_runner_;
  std::unique_ptr<fold::FoldRunner> views_runner_;
  std::unique_ptr<command::AggregateState> aggregate_state_;
  std::unique_ptr<command::CommandExecutor> executor_;
  std::unique_ptr<SurveyCommandHandler> handler_;
  std::unique_ptr<SurveyDeadlines> deadlines_;
  std::unique_ptr<command::DeadlineWatcher> watcher_;
  std::unique_ptr<SurveyQueries> queries_;
  rpc::CallContext call_;
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
