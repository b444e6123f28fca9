#include "projections/notification/notification_fold.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/events/v1/envelope.pb.h"
#include "gtest/gtest.h"
#include "readmodel/notification/notification_views.h"

namespace crm::projections::notification {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Notification;
namespace views = readmodel::notification;

class NotificationFoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            absl::StrCat("notification_fold_test_", ::getpid(), "_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    store_ = *kv::KvStore::Open((root_ / "a").string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  static EventEnvelope Event(absl::string_view customer, absl::string_view aggregate) {
    EventEnvelope e;
    e.set_event_id(absl::StrCat("e", ++next_id_));
    e.set_customer_id(std::string(customer));
    e.set_aggregate(std::string(aggregate));
    e.set_actor("staff/boss");
    e.mutable_occurred_at()->set_seconds(1'700'000'000 + next_id_);
    return e;
  }

  // Appends `e` at the next offset of `partition` and folds it into `store`.
  void Fold(const EventEnvelope& e, int32_t partition = 0, kv::KvStore* store = nullptr) {
    eventlog::LogRecord record;
    record.position = {.partition = partition, .offset = offsets_[partition]++};
    record.value = e.SerializeAsString();
    records_.push_back(record);
    ApplyRecord(record, store == nullptr ? store_.get() : store);
  }
  void ApplyRecord(const eventlog::LogRecord& record, kv::KvStore* store) {
    kv::KvBatch batch = store->NewBatch();
    ASSERT_TRUE(active_->Apply(record, batch).ok());
    ASSERT_TRUE(store->Write(batch).ok());
  }

  std::vector<Notification> Of(absl::string_view staff, const views::NotificationCursor& after = {},
                               size_t limit = 100) {
    auto page = views::NotificationViews(store_.get()).After(staff, after, limit);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->notifications : std::vector<Notification>{};
  }

  static std::map<std::string, std::string> Dump(const kv::KvStore& store) {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store
                    .ScanPrefix("nt/", "", 0,
                                [&](absl::string_view k, absl::string_view v) {
                                  out.emplace(k, v);
                                  return true;
                                })
                    .ok());
    return out;
  }

  void SetUpSurvey(absl::string_view survey, absl::string_view sender, absl::string_view team) {
    EventEnvelope sent = Event("k1", survey);
    sent.mutable_survey_sent()->mutable_staff()->set_staff_id(std::string(sender));
    sent.mutable_survey_sent()->mutable_staff()->set_team(std::string(team));
    Fold(sent);
  }

  static inline int next_id_ = 0;
  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  NotificationFold fold_;
  NotificationFold* active_ = &fold_;
  std::map<int32_t, int64_t> offsets_;
  std::vector<eventlog::LogRecord> records_;
};

TEST_F(NotificationFoldTest, AssignmentsBreachesAndEscalationsReachWhoMustAct) {
  EventEnvelope owner = Event("k1", "customers/k1");
  owner.mutable_owner_assigned()->set_owner("ann");
  Fold(owner);
  EventEnvelope assigned = Event("k1", "customers/k1/complaints/c1");
  assigned.mutable_complaint_assigned()->mutable_assignee()->set_staff_id("bob");
  Fold(assigned);
  EventEnvelope breach = Event("k1", "customers/k1/complaints/c1");
  breach.set_actor("crm/sla-watcher");
  breach.mutable_complaint_sla_breached()->set_kind(crm::events::v1::RESPONSE);
  breach.mutable_complaint_sla_breached()->mutable_assignee()->set_staff_id("bob");
  Fold(breach);
  EventEnvelope escalated = Event("k1", "customers/k1/complaints/c1");
  escalated.mutable_complaint_escalated()->set_level(1);
  escalated.mutable_complaint_escalated()->mutable_from()->set_staff_id("bob");
  escalated.mutable_complaint_escalated()->mutable_to()->set_staff_id("cat");
  escalated.mutable_complaint_escalated()->set_automatic(true);
  escalated.mutable_complaint_escalated()->set_sla_kind(crm::events::v1::RESPONSE);
  Fold(escalated);
  // Nobody to tell: an unassigned breach, an escalation with nobody further up.
  EventEnvelope lonely = Event("k1", "customers/k1/complaints/c2");
  lonely.mutable_complaint_sla_breached()->set_kind(crm::events::v1::RESOLUTION);
  Fold(lonely);
  EventEnvelope top = Event("k1", "customers/k1/complaints/c2");
  top.mutable_complaint_escalated()->set_level(3);
  Fold(top);

  auto ann = Of("ann");
  ASSERT_EQ(ann.size(), 1u);
  EXPECT_EQ(ann[0].reason(), crm::v1::OWNER_ASSIGNED);
  EXPECT_EQ(ann[0].subject(), "customers/k1");
  EXPECT_EQ(ann[0].recipient(), "staff/ann");
  EXPECT_EQ(ann[0].event_id(), owner.event_id());
  EXPECT_EQ(ann[0].actor(), "staff/boss");
  EXPECT_EQ(ann[0].create_time().seconds(), owner.occurred_at().seconds());

  auto bob = Of("bob");
  ASSERT_EQ(bob.size(), 2u);
  EXPECT_EQ(bob[0].reason(), crm::v1::COMPLAINT_ASSIGNED);
  EXPECT_EQ(bob[0].subject(), "customers/k1/complaints/c1");
  EXPECT_EQ(bob[1].reason(), crm::v1::SLA_BREACHED);
  EXPECT_EQ(bob[1].sla_kind(), crm::v1::RESPONSE);
  EXPECT_EQ(bob[1].actor(), "crm/sla-watcher");

  auto cat = Of("cat");
  ASSERT_EQ(cat.size(), 1u);
  EXPECT_EQ(cat[0].reason(), crm::v1::ESCALATED);
  EXPECT_EQ(cat[0].escalation_level(), 1);
  EXPECT_EQ(cat[0].sla_kind(), crm::v1::RESPONSE);

  // Exactly four notifications in all.
  int notifications = 0;
  for (const auto& [key, value] : Dump(*store_)) notifications += key.rfind("nt/r/", 0) == 0;
  EXPECT_EQ(notifications, 4);
}

TEST_F(NotificationFoldTest, RemindersReachWhoHoldsTheWork) {
  EventEnvelope deadline = Event("k1", "customers/k1/complaints/c1");
  deadline.set_actor("crm/sla-watcher");
  auto* approaching = deadline.mutable_complaint_deadline_approaching();
  approaching->set_kind(crm::events::v1::RESOLUTION);
  approaching->mutable_due_time()->set_seconds(1'800'000'000);
  approaching->mutable_assignee()->set_staff_id("bob");
  Fold(deadline);
  EventEnvelope follow_up = Event("k1", "customers/k1/interactions/i1");
  follow_up.set_actor("crm/sla-watcher");
  follow_up.mutable_follow_up_due_soon()->mutable_follow_up_due_time()->set_seconds(1'800'000'100);
  follow_up.mutable_follow_up_due_soon()->set_staff_id("ann");
  Fold(follow_up);
  // Nobody to tell: an unassigned complaint's deadline.
  EventEnvelope lonely = Event("k1", "customers/k1/complaints/c2");
  lonely.mutable_complaint_deadline_approaching()->set_kind(crm::events::v1::RESPONSE);
  Fold(lonely);

  auto bob = Of("bob");
  ASSERT_EQ(bob.size(), 1u);
  EXPECT_EQ(bob[0].reason(), crm::v1::COMPLAINT_DEADLINE_DUE);
  EXPECT_EQ(bob[0].subject(), "customers/k1/complaints/c1");
  EXPECT_EQ(bob[0].sla_kind(), crm::v1::RESOLUTION);
  EXPECT_EQ(bob[0].due_time().seconds(), 1'800'000'000);
  EXPECT_EQ(bob[0].actor(), "crm/sla-watcher");
  EXPECT_EQ(bob[0].create_time().seconds(), deadline.occurred_at().seconds());

  auto ann = Of("ann");
  ASSERT_EQ(ann.size(), 1u);
  EXPECT_EQ(ann[0].reason(), crm::v1::FOLLOW_UP_DUE);
  EXPECT_EQ(ann[0].subject(), "customers/k1/interactions/i1");
  EXPECT_EQ(ann[0].due_time().seconds(), 1'800'000'100);
  EXPECT_EQ(ann[0].sla_kind(), crm::v1::SLA_KIND_UNSPECIFIED);

  int notifications = 0;
  for (const auto& [key, value] : Dump(*store_)) notifications += key.rfind("nt/r/", 0) == 0;
  EXPECT_EQ(notifications, 2);
}

TEST_F(NotificationFoldTest, LowSurveyAnswersReachTheSenderAndTheirTeamLead) {
  EventEnvelope team = Event("", "teams/t1");
  team.mutable_team_created()->mutable_team()->set_name("teams/t1");
  team.mutable_team_created()->mutable_team()->set_lead("lea");
  Fold(team);
  SetUpSurvey("customers/k1/surveys/s1", "sam", "teams/t1");
  SetUpSurvey("customers/k1/surveys/s2", "sam", "teams/t1");
  SetUpSurvey("customers/k1/surveys/s3", "lea", "teams/t1");
  SetUpSurvey("customers/k1/surveys/s4", "sam", "teams/t1");

  EventEnvelope low = Event("k1", "customers/k1/surveys/s1");
  low.mutable_survey_answered()->set_csat(2);
  low.mutable_survey_answered()->set_nps(9);
  Fold(low);
  EventEnvelope fine = Event("k1", "customers/k1/surveys/s2");  // CSAT 3, NPS 7: not low
  fine.mutable_survey_answered()->set_csat(3);
  fine.mutable_survey_answered()->set_nps(7);
  Fold(fine);
  EventEnvelope own = Event("k1", "customers/k1/surveys/s3");  // the lead's own survey: once
  own.mutable_survey_answered()->set_nps(6);
  Fold(own);
  // The lead changes: the next low answer goes to the new lead.
  EventEnvelope moved = Event("", "teams/t1");
  moved.mutable_team_updated()->add_changed_paths("lead");
  moved.mutable_team_updated()->mutable_team()->set_lead("leo");
  Fold(moved);
  EventEnvelope later = Event("k1", "customers/k1/surveys/s4");
  later.mutable_survey_answered()->set_nps(0);
  Fold(later);

  auto sam = Of("sam");
  ASSERT_EQ(sam.size(), 2u);
  EXPECT_EQ(sam[0].reason(), crm::v1::LOW_SURVEY_ANSWER);
  EXPECT_EQ(sam[0].subject(), "customers/k1/surveys/s1");
  EXPECT_EQ(sam[0].csat(), 2);
  EXPECT_EQ(sam[0].nps(), 9);
  EXPECT_EQ(sam[0].concerns(), "staff/sam");
  EXPECT_EQ(sam[1].subject(), "customers/k1/surveys/s4");
  EXPECT_FALSE(sam[1].has_csat());

  auto lea = Of("lea");
  ASSERT_EQ(lea.size(), 2u);
  EXPECT_EQ(lea[0].subject(), "customers/k1/surveys/s1");
  EXPECT_EQ(lea[0].concerns(), "staff/sam");
  EXPECT_EQ(lea[1].subject(), "customers/k1/surveys/s3");
  EXPECT_EQ(lea[1].concerns(), "staff/lea");
  EXPECT_NE(lea[0].name(), sam[0].name());  // one id per recipient

  auto leo = Of("leo");
  ASSERT_EQ(leo.size(), 1u);
  EXPECT_EQ(leo[0].subject(), "customers/k1/surveys/s4");
}

TEST_F(NotificationFoldTest, ThresholdsComeFromTheOptions) {
  NotificationFold strict({.csat_max = -1, .nps_max = 8});
  active_ = &strict;
  SetUpSurvey("customers/k1/surveys/s1", "sam", "");
  EventEnvelope answer = Event("k1", "customers/k1/surveys/s1");
  answer.mutable_survey_answered()->set_csat(1);
  answer.mutable_survey_answered()->set_nps(8);
  Fold(answer);
  auto sam = Of("sam");
  ASSERT_EQ(sam.size(), 1u);
  EXPECT_EQ(sam[0].nps(), 8);
}

TEST_F(NotificationFoldTest, RedeliveryAndRefoldWriteTheSameKeysAndIds) {
  for (int i = 0; i < 6; ++i) {
    EventEnvelope assigned =
        Event(absl::StrCat("k", i), absl::StrCat("customers/k", i, "/complaints/c"));
    assigned.mutable_complaint_assigned()->mutable_assignee()->set_staff_id("bob");
    Fold(assigned, /*partition=*/i % 3);
  }
  const auto first = Dump(*store_);
  // A record applied again (redelivery) changes nothing.
  for (const auto& record : records_) ApplyRecord(record, store_.get());
  EXPECT_EQ(Dump(*store_), first);
  // A refold in another order of partitions (as another Kafka fetch may give) writes the same.
  auto other = *kv::KvStore::Open((root_ / "b").string());
  for (int p : {2, 0, 1}) {
    for (const auto& record : records_) {
      if (record.position.partition == p) ApplyRecord(record, other.get());
    }
  }
  EXPECT_EQ(Dump(*other), first);
}

TEST_F(NotificationFoldTest, CursorsResumeAfterTheLastDeliveredInEveryPartition) {
  for (int i = 0; i < 6; ++i) {
    EventEnvelope owner = Event(absl::StrCat("k", i), absl::StrCat("customers/k", i));
    owner.mutable_owner_assigned()->set_owner("ann");
    Fold(owner, /*partition=*/i % 2);
  }
  auto all = Of("ann");
  ASSERT_EQ(all.size(), 6u);
  // Two at a time, each page resuming from the last one's cursor, gives every one once.
  std::vector<std::string> names;
  views::NotificationCursor cursor;
  for (;;) {
    auto page = views::NotificationViews(store_.get()).After("ann", cursor, 2);
    ASSERT_TRUE(page.ok());
    for (const auto& n : page->notifications) names.push_back(n.name());
    if (page->notifications.empty()) break;
    auto decoded = views::DecodeCursor(page->notifications.back().cursor(), "after");
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, page->cursor);
    cursor = *decoded;
  }
  ASSERT_EQ(names.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(names[i], all[i].name());
  // A notification derived later in partition 0 comes after the cursor though partition 1's
  // were delivered after partition 0's.
  EventEnvelope late = Event("k9", "customers/k9");
  late.mutable_owner_assigned()->set_owner("ann");
  Fold(late, 0);
  auto after = Of("ann", cursor);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].subject(), "customers/k9");
  EXPECT_FALSE(views::DecodeCursor("not a cursor!", "after").ok());
}

}  // namespace
}  // namespace crm::projections::notification
