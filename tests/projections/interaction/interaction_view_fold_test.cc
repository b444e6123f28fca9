#include "projections/interaction/interaction_view_fold.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/common/event_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/interaction/timeline_entry.h"
#include "readmodel/interaction/interaction_views.h"
#include "readmodel/interaction/view_keys.h"

namespace crm::projections::interaction {
namespace {

using crm::events::v1::EventEnvelope;
using readmodel::interaction::InteractionViews;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kT0 = 1'700'000'000;

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(nanos);
  return ts;
}

// Stamps an event as the command side would. occurred_at defaults to recorded_at.
EventEnvelope Stamp(const std::string& customer_id, const std::string& aggregate, int64_t version,
                    int64_t recorded, EventEnvelope e) {
  e.set_event_id(base::UuidFromName(absl::StrCat(aggregate, "@", version)));
  e.set_customer_id(customer_id);
  e.set_aggregate(aggregate);
  e.set_aggregate_version(version);
  *e.mutable_recorded_at() = At(recorded);
  if (!e.has_occurred_at()) *e.mutable_occurred_at() = e.recorded_at();
  e.set_schema_version(1);
  return e;
}

EventEnvelope Logged(const std::string& cid, const std::string& iid, const std::string& staff,
                     int64_t occurred, std::optional<int64_t> due = std::nullopt,
                     crm::v1::Channel channel = crm::v1::PHONE) {
  EventEnvelope e;
  *e.mutable_occurred_at() = At(occurred);
  auto* i = e.mutable_interaction_logged()->mutable_interaction();
  i->set_name(absl::StrCat("customers/", cid, "/interactions/", iid));
  i->set_channel(crm::domain::ToEvent(channel));
  i->set_direction(crm::events::v1::INBOUND);
  i->set_staff_id(staff);
  *i->mutable_occurred_at() = At(occurred);
  i->set_summary(absl::StrCat("talk ", iid));
  if (due.has_value()) *i->mutable_follow_up_due_time() = At(*due);
  e.mutable_interaction_logged()->mutable_staff()->set_staff_id(staff);
  return Stamp(cid, i->name(), 1, kT0 + 1000, e);
}

EventEnvelope Completed(const std::string& cid, const std::string& iid, int64_t at) {
  EventEnvelope e;
  e.mutable_follow_up_completed()->set_note("done");
  *e.mutable_follow_up_completed()->mutable_complete_time() = At(at);
  e.mutable_follow_up_completed()->mutable_staff()->set_staff_id("ann");
  return Stamp(cid, absl::StrCat("customers/", cid, "/interactions/", iid), 2, at, e);
}

std::map<std::string, std::string> Dump(const kv::KvStore& store) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(store
                  .Scan("", "", 0,
                        [&](absl::string_view k, absl::string_view v) {
                          out.emplace(std::string(k), std::string(v));
                          return true;
                        })
                  .ok());
  return out;
}

// The views without the runner's own bookkeeping.
std::map<std::string, std::string> Views(const kv::KvStore& store) {
  auto all = Dump(store);
  std::map<std::string, std::string> out;
  for (auto& [k, v] : all) {
    if (!absl::StartsWith(k, fold::FoldRunner::kReservedPrefix)) out.emplace(k, v);
  }
  return out;
}

class InteractionViewFoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("in-views-" + base::NewUuid());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Append(const EventEnvelope& e) {
    const std::string key = e.customer_id().empty() ? "org" : e.customer_id();
    ASSERT_TRUE(
        log_.Append(key, {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5)).ok());
  }
  std::unique_ptr<kv::KvStore> Fold(const std::string& name, size_t max_batch = 512) {
    auto store = *kv::KvStore::Open((root_ / name).string());
    fold::FoldRunner runner(&log_, store.get(), &fold_, {.name = name, .max_batch = max_batch});
    EXPECT_TRUE(runner.CatchUp().ok());
    EXPECT_EQ(runner.dead_letters(), 0);
    return store;
  }

  // A customer with a profile, a purchase, a complaint flow and interactions, plus noise.
  void AppendScenario() {
    EventEnvelope reg;
    reg.mutable_customer_registered()->mutable_profile()->set_display_name("Acme");
    reg.mutable_customer_registered()->set_lifecycle_stage(crm::events::v1::POTENTIAL);
    Append(Stamp("acme", "customers/acme", 1, kT0, reg));
    EventEnvelope tag;  // not on the timeline
    tag.mutable_customer_tagged()->set_tag("vip");
    Append(Stamp("acme", "customers/acme", 2, kT0 + 10, tag));
    EventEnvelope purchase;
    auto* p = purchase.mutable_purchase_recorded()->mutable_purchase();
    p->set_product("Widget");
    p->mutable_amount()->set_currency_code("CNY");
    p->mutable_amount()->set_amount_minor(123456);
    *p->mutable_purchased_at() = At(kT0 - 5000);
    *purchase.mutable_occurred_at() = At(kT0 - 5000);  // bought before registering
    Append(Stamp("acme", "customers/acme", 3, kT0 + 20, purchase));
    EventEnvelope staff;  // org event: no customer
    staff.mutable_staff_added()->mutable_staff()->set_name("staff/ann");
    Append(Stamp("", "staff/ann", 1, kT0 + 30, staff));
    EventEnvelope filed;
    filed.mutable_complaint_filed()->set_description("Parcel late");
    filed.mutable_complaint_filed()->set_severity(crm::events::v1::GENERAL);
    filed.mutable_complaint_filed()->set_category(crm::events::v1::LOGISTICS);
    filed.mutable_complaint_filed()->set_channel(crm::events::v1::EMAIL);
    Append(Stamp("acme", "customers/acme/complaints/c1", 1, kT0 + 40, filed));
    Append(Logged("acme", "i1", "ann", kT0 + 50, kT0 + 5000));
    Append(Logged("acme", "i2", "ann", kT0 + 60, kT0 + 3000, crm::v1::EMAIL));
    Append(Logged("acme", "i3", "bob", kT0 + 45));
    Append(Logged("other", "i1", "ann", kT0 + 70, kT0 + 4000));
    EventEnvelope breached;
    breached.mutable_complaint_sla_breached()->set_kind(crm::events::v1::RESPONSE);
    *breached.mutable_complaint_sla_breached()->mutable_due_time() = At(kT0 + 100);
    *breached.mutable_occurred_at() = At(kT0 + 100);
    Append(Stamp("acme", "customers/acme/complaints/c1", 2, kT0 + 200, breached));
    Append(Completed("acme", "i2", kT0 + 300));
  }

  std::filesystem::path root_;
  eventlog::InMemoryEventLog log_;
  InteractionViewFold fold_;
};

TEST_F(InteractionViewFoldTest, InteractionRecordAndCustomerListNewestFirst) {
  AppendScenario();
  auto store = Fold("views");
  InteractionViews views(store.get());

  auto i2 = *views.Get("customers/acme/interactions/i2");
  ASSERT_TRUE(i2.has_value());
  EXPECT_EQ(i2->version(), 2);
  EXPECT_EQ(i2->etag(), "v2");
  EXPECT_EQ(i2->follow_up_note(), "done");
  EXPECT_FALSE(views.Get("customers/acme/interactions/nope")->has_value());

  auto page = *views.ListForCustomer("acme", crm::v1::CHANNEL_UNSPECIFIED, "", 10);
  std::vector<std::string> names;
  for (const auto& i : page.interactions) names.push_back(i.name());
  EXPECT_THAT(names, ElementsAre("customers/acme/interactions/i2", "customers/acme/interactions/i1",
                                 "customers/acme/interactions/i3"));
  EXPECT_TRUE(page.next_cursor.empty());

  // Paging: one at a time, following the cursor.
  std::vector<std::string> paged;
  std::string cursor;
  do {
    auto p = *views.ListForCustomer("acme", crm::v1::CHANNEL_UNSPECIFIED, cursor, 1);
    for (const auto& i : p.interactions) paged.push_back(i.name());
    cursor = p.next_cursor;
  } while (!cursor.empty());
  EXPECT_EQ(paged, names);

  auto email = *views.ListForCustomer("acme", crm::v1::EMAIL, "", 10);
  ASSERT_EQ(email.interactions.size(), 1u);
  EXPECT_EQ(email.interactions[0].name(), "customers/acme/interactions/i2");
}

TEST_F(InteractionViewFoldTest, TimelineMixesEveryKindNewestFirst) {
  AppendScenario();
  auto store = Fold("views");
  InteractionViews views(store.get());
  auto page = *views.Timeline("acme", {}, "", 100);
  std::vector<int> payloads;
  std::vector<int64_t> times;
  for (const auto& e : page.entries) {
    EXPECT_EQ(e.summary(), "") << "facts only: the text is rendered at query time";
    payloads.push_back(e.event().payload_case());
    times.push_back(e.time().seconds());
  }
  EXPECT_THAT(payloads,
              ElementsAre(EventEnvelope::kFollowUpCompleted, EventEnvelope::kComplaintSlaBreached,
                          EventEnvelope::kInteractionLogged, EventEnvelope::kInteractionLogged,
                          EventEnvelope::kInteractionLogged, EventEnvelope::kComplaintFiled,
                          EventEnvelope::kCustomerRegistered, EventEnvelope::kPurchaseRecorded));
  EXPECT_THAT(times, ElementsAre(kT0 + 300, kT0 + 100, kT0 + 60, kT0 + 50, kT0 + 45, kT0 + 40, kT0,
                                 kT0 - 5000));
  EXPECT_EQ(page.entries[0].kind(), crm::v1::TIMELINE_FOLLOW_UP);
  EXPECT_EQ(page.entries[0].resource(), "customers/acme/interactions/i2");
  EXPECT_EQ(page.entries[1].kind(), crm::v1::TIMELINE_COMPLAINT);
  EXPECT_EQ(page.entries[1].resource(), "customers/acme/complaints/c1");
  EXPECT_EQ(page.entries[6].kind(), crm::v1::TIMELINE_PROFILE);
  EXPECT_EQ(page.entries[6].resource(), "customers/acme");
  EXPECT_EQ(page.entries[7].kind(), crm::v1::TIMELINE_PURCHASE);
  EXPECT_TRUE(page.entries[7].event().has_purchase_recorded());
  EXPECT_TRUE(page.next_cursor.empty());

  auto complaints = *views.Timeline("acme", {crm::v1::TIMELINE_COMPLAINT}, "", 100);
  EXPECT_EQ(complaints.entries.size(), 2u);
  auto other = *views.Timeline("other", {}, "", 100);
  EXPECT_EQ(other.entries.size(), 1u);
}

TEST_F(InteractionViewFoldTest, TimelinePagesCoverEveryEntryOnce) {
  AppendScenario();
  auto store = Fold("views");
  InteractionViews views(store.get());
  auto all = *views.Timeline("acme", {}, "", 100);
  std::vector<std::string> paged;
  std::string cursor;
  int pages = 0;
  do {
    auto p = *views.Timeline("acme", {}, cursor, 3);
    for (const auto& e : p.entries) paged.push_back(e.event().event_id());
    cursor = p.next_cursor;
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  std::vector<std::string> expected;
  for (const auto& e : all.entries) expected.push_back(e.event().event_id());
  EXPECT_EQ(paged, expected);
}

TEST_F(InteractionViewFoldTest, SameTimeEntriesAreOrderedByEventId) {
  // Two events at the same business time: the order is by event id, whatever the log order.
  EventEnvelope a = Logged("acme", "a", "ann", kT0);
  EventEnvelope b = Logged("acme", "b", "ann", kT0);
  Append(a);
  Append(b);
  auto store = Fold("views");
  auto page = *InteractionViews(store.get()).Timeline("acme", {}, "", 10);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_LT(page.entries[0].event().event_id(), page.entries[1].event().event_id());
}

TEST_F(InteractionViewFoldTest, FollowUpsPerStaffEarliestDueFirstAndRemovedWhenCompleted) {
  AppendScenario();
  auto store = Fold("views");
  InteractionViews views(store.get());
  auto ann = *views.FollowUps("ann", std::nullopt, "", 10);
  std::vector<std::string> names;
  for (const auto& i : ann.interactions) names.push_back(i.name());
  // i2 was completed; other/i1 (due +4000) comes before acme/i1 (due +5000).
  EXPECT_THAT(names,
              ElementsAre("customers/other/interactions/i1", "customers/acme/interactions/i1"));
  EXPECT_THAT(views.FollowUps("bob", std::nullopt, "", 10)->interactions, IsEmpty());

  auto before = *views.FollowUps("ann", At(kT0 + 5000), "", 10);
  ASSERT_EQ(before.interactions.size(), 1u);  // strictly before: acme/i1 is due exactly then
  EXPECT_EQ(before.interactions[0].name(), "customers/other/interactions/i1");

  auto first = *views.FollowUps("ann", std::nullopt, "", 1);
  ASSERT_EQ(first.interactions.size(), 1u);
  ASSERT_FALSE(first.next_cursor.empty());
  auto second = *views.FollowUps("ann", std::nullopt, first.next_cursor, 1);
  ASSERT_EQ(second.interactions.size(), 1u);
  EXPECT_EQ(second.interactions[0].name(), "customers/acme/interactions/i1");
  EXPECT_TRUE(second.next_cursor.empty());
}

TEST_F(InteractionViewFoldTest, WritesOnlyUnderItsPrefix) {
  AppendScenario();
  auto store = Fold("views");
  auto views = Views(*store);
  EXPECT_FALSE(views.empty());
  for (const auto& [k, v] : views) EXPECT_TRUE(absl::StartsWith(k, "in/")) << k;
}

TEST_F(InteractionViewFoldTest, RebuildFromZeroGivesIdenticalViews) {
  AppendScenario();
  auto a = Fold("a", 512);
  auto b = Fold("b", 1);  // other batch boundaries
  EXPECT_EQ(Views(*a), Views(*b));
}

TEST_F(InteractionViewFoldTest, ReappliedRecordsChangeNothing) {
  AppendScenario();
  auto store = Fold("views");
  const auto before = Views(*store);
  // Re-apply every record (as after a crash before the position was written).
  auto reader = *log_.NewReader({{0, 0}});
  auto records = *reader->Poll(1000, absl::Now() + absl::Seconds(5));
  ASSERT_FALSE(records.empty());
  for (const auto& record : records) {
    kv::KvBatch batch = store->NewBatch();
    ASSERT_TRUE(fold_.Apply(record, batch).ok());
    ASSERT_TRUE(store->Write(batch).ok());
  }
  EXPECT_EQ(Views(*store), before);
}

TEST_F(InteractionViewFoldTest, IgnoresEventsItDoesNotUse) {
  EventEnvelope tag;
  tag.mutable_customer_tagged()->set_tag("vip");
  Append(Stamp("acme", "customers/acme", 1, kT0, tag));
  EventEnvelope staff;
  staff.mutable_staff_deactivated()->set_reason("left");
  Append(Stamp("", "staff/ann", 2, kT0, staff));
  EventEnvelope empty;  // a payload from a newer writer decodes as none
  Append(Stamp("acme", "customers/acme", 2, kT0, empty));
  auto store = Fold("views");
  EXPECT_TRUE(Views(*store).empty());
}

TEST_F(InteractionViewFoldTest, VersionGapAndGarbageAreDataLoss) {
  auto store = *kv::KvStore::Open((root_ / "v").string());
  eventlog::LogRecord record;
  record.value = "not a protobuf \xff\xff";
  kv::KvBatch batch = store->NewBatch();
  EXPECT_EQ(fold_.Apply(record, batch).code(), absl::StatusCode::kDataLoss);

  // FollowUpCompleted of an interaction never logged: version 2 after 0.
  record.value = Completed("acme", "i9", kT0).SerializeAsString();
  EXPECT_EQ(fold_.Apply(record, batch).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(batch.Count(), 0u);
}

TEST(TimelineEntryTest, EventsOffTheTimelineMakeNoEntry) {
  EventEnvelope e;
  e.set_customer_id("acme");
  e.mutable_customer_untagged()->set_tag("x");
  EXPECT_FALSE(TimelineEntryFor(e).has_value());
  e.mutable_owner_unassigned()->set_previous_owner("ann");
  auto entry = TimelineEntryFor(e);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->kind(), crm::v1::TIMELINE_PROFILE);
  EXPECT_EQ(entry->resource(), "customers/acme");
  EXPECT_EQ(entry->summary(), "");
  e.clear_customer_id();
  EXPECT_FALSE(TimelineEntryFor(e).has_value());
}

}  // namespace
}  // namespace crm::projections::interaction
