#include "projections/customer/customer_view_fold.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "readmodel/customer/customer_views.h"

namespace crm::projections::customer {
namespace {

using crm::events::v1::EventEnvelope;
using readmodel::customer::CustomerViews;
using readmodel::customer::Index;

EventEnvelope Stamp(const std::string& id, int64_t version, EventEnvelope e) {
  e.set_event_id(base::NewUuid());
  e.set_customer_id(id);
  e.set_aggregate_version(version);
  e.mutable_recorded_at()->set_seconds(1'700'000'000 + version);
  *e.mutable_occurred_at() = e.recorded_at();
  e.set_schema_version(1);
  return e;
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

class CustomerViewFoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("views-" + base::NewUuid());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Append(const EventEnvelope& e) {
    ASSERT_TRUE(
        log_.Append(e.customer_id(), {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5))
            .ok());
  }
  std::unique_ptr<kv::KvStore> Fold(const std::string& name) {
    auto store = *kv::KvStore::Open((root_ / name).string());
    fold::FoldRunner runner(&log_, store.get(), &fold_, {.name = name});
    EXPECT_TRUE(runner.CatchUp().ok());
    return store;
  }
  void AppendScenario() {
    EventEnvelope reg;
    auto* r = reg.mutable_customer_registered();
    r->mutable_profile()->set_display_name("Acme");
    r->mutable_profile()->set_kind(crm::events::v1::COMPANY);
    r->mutable_profile()->add_emails("a@acme.com");
    r->mutable_profile()->add_phones("+8613800000000");
    (*r->mutable_profile()->mutable_attributes())["b"] = "2";
    (*r->mutable_profile()->mutable_attributes())["a"] = "1";
    r->set_lifecycle_stage(crm::events::v1::POTENTIAL);
    Append(Stamp("acme", 1, reg));
    EventEnvelope tag;
    tag.mutable_customer_tagged()->set_tag("vip");
    Append(Stamp("acme", 2, tag));
    EventEnvelope owner;
    owner.mutable_owner_assigned()->set_owner("alice");
    Append(Stamp("acme", 3, owner));
    EventEnvelope update;
    update.mutable_customer_profile_updated()->add_changed_paths("emails");
    update.mutable_customer_profile_updated()->mutable_profile()->add_emails("b@acme.com");
    Append(Stamp("acme", 4, update));
    EventEnvelope stage;
    stage.mutable_lifecycle_stage_changed()->set_from_stage(crm::events::v1::POTENTIAL);
    stage.mutable_lifecycle_stage_changed()->set_to_stage(crm::events::v1::FIRST_CONTACT);
    Append(Stamp("acme", 5, stage));
  }

  std::filesystem::path root_;
  eventlog::InMemoryEventLog log_;
  CustomerViewFold fold_;
};

TEST_F(CustomerViewFoldTest, BuildsRecordIndexesAndHistory) {
  AppendScenario();
  auto store = Fold("a");
  CustomerViews views(store.get());
  auto customer = *views.Get("acme");
  ASSERT_TRUE(customer.has_value());
  EXPECT_EQ(customer->version(), 5);
  EXPECT_EQ(customer->owner(), "alice");
  EXPECT_EQ(customer->lifecycle_stage(), crm::v1::FIRST_CONTACT);

  EXPECT_TRUE(views.Find(Index::kEmail, "a@acme.com", 10)->empty()) << "old e-mail unindexed";
  EXPECT_EQ(views.Find(Index::kEmail, "b@acme.com", 10)->size(), 1u);
  EXPECT_EQ(views.Find(Index::kPhone, "+8613800000000", 10)->size(), 1u);

  CustomerViews::Filter by_stage{.stage = crm::v1::FIRST_CONTACT};
  EXPECT_EQ(views.List(by_stage, "", 10)->customers.size(), 1u);
  CustomerViews::Filter old_stage{.stage = crm::v1::POTENTIAL};
  EXPECT_TRUE(views.List(old_stage, "", 10)->customers.empty());
  CustomerViews::Filter by_tag{.tag = "vip"};
  EXPECT_EQ(views.List(by_tag, "", 10)->customers.size(), 1u);
  CustomerViews::Filter by_owner{.owner = "alice"};
  EXPECT_EQ(views.List(by_owner, "", 10)->customers.size(), 1u);

  auto history = *views.History("acme", 0, 3);
  ASSERT_EQ(history.events.size(), 3u);
  EXPECT_TRUE(history.more);
  auto rest = *views.History("acme", 3, 3);
  ASSERT_EQ(rest.events.size(), 2u);
  EXPECT_FALSE(rest.more);
  EXPECT_EQ(rest.events[1].aggregate_version(), 5);
}

// Registers `id` with a name, region, industry and kind (version 1).
EventEnvelope Registered(const std::string& id, const std::string& name, const std::string& region,
                         const std::string& industry, crm::events::v1::CustomerKind kind) {
  EventEnvelope reg;
  auto* r = reg.mutable_customer_registered();
  r->mutable_profile()->set_display_name(name);
  r->mutable_profile()->set_kind(kind);
  r->mutable_profile()->set_region(region);
  r->mutable_profile()->set_industry(industry);
  r->set_lifecycle_stage(crm::events::v1::POTENTIAL);
  return Stamp(id, 1, reg);
}

std::vector<std::string> Ids(const CustomerViews::SearchPage& page) {
  std::vector<std::string> out;
  for (const auto& c : page.customers) out.push_back(c.name());
  return out;
}

size_t CountPrefix(const kv::KvStore& store, const std::string& prefix) {
  size_t n = 0;
  EXPECT_TRUE(store
                  .ScanPrefix(prefix, "", 0,
                              [&](absl::string_view, absl::string_view) {
                                ++n;
                                return true;
                              })
                  .ok());
  return n;
}

TEST_F(CustomerViewFoldTest, SearchesByFoldedNamePrefixInNameOrder) {
  Append(Registered("c1", "华为技术", "华南", "Telecom", crm::events::v1::COMPANY));
  Append(Registered("c2", "ACME Trading", "East China", "Retail", crm::events::v1::COMPANY));
  Append(Registered("c3", "ａｃｍｅ Foods", "east  china", "Food", crm::events::v1::PERSON));
  Append(Registered("c4", "华联超市", "华东", "Retail", crm::events::v1::COMPANY));
  Append(Registered("c5", "Zeta", "", "", crm::events::v1::PERSON));
  auto store = Fold("a");
  CustomerViews views(store.get());
  auto all = [](const crm::v1::Customer&) { return true; };
  auto search = [&](CustomerViews::Filter f) { return *views.Search(f, "", 10, 5000, all); };

  EXPECT_EQ(Ids(search({.name_prefix = "acme"})),
            (std::vector<std::string>{"customers/c3", "customers/c2"}))
      << "'acme foods' < 'acme trading'";
  EXPECT_EQ(Ids(search({.name_prefix = "华"})),
            (std::vector<std::string>{"customers/c1", "customers/c4"}))
      << "code point order: 为 (U+4E3A) before 联 (U+8054)";
  EXPECT_EQ(Ids(search({.name_prefix = "华为"})), (std::vector<std::string>{"customers/c1"}));
  EXPECT_EQ(Ids(search({.region = "east china"})),
            (std::vector<std::string>{"customers/c3", "customers/c2"}));
  EXPECT_EQ(Ids(search({.industry = "retail"})),
            (std::vector<std::string>{"customers/c2", "customers/c4"}));
  EXPECT_EQ(Ids(search({.name_prefix = "华", .industry = "retail"})),
            (std::vector<std::string>{"customers/c4"}));
  EXPECT_EQ(Ids(search({.kind = crm::v1::PERSON})),
            (std::vector<std::string>{"customers/c3", "customers/c5"}));
  EXPECT_EQ(Ids(search({.stage = crm::v1::POTENTIAL, .name_prefix = "z"})),
            (std::vector<std::string>{"customers/c5"}));
  EXPECT_EQ(search({}).customers.size(), 5u);
  EXPECT_TRUE(search({.name_prefix = "nobody"}).customers.empty());

  // Pages of one, through everything, each resuming at the cursor.
  std::vector<std::string> paged;
  std::string cursor;
  for (int i = 0; i < 10; ++i) {
    auto page = *views.Search({}, cursor, 1, 5000, all);
    for (const auto& id : Ids(page)) paged.push_back(id);
    if (!page.more) break;
    cursor = page.cursor;
  }
  EXPECT_EQ(paged, Ids(search({})));

  // The scan bound: a page that reads at most 2 entries stops early and says more follow.
  auto none = [](const crm::v1::Customer&) { return false; };
  auto bounded = *views.Search({}, "", 10, 2, none);
  EXPECT_TRUE(bounded.customers.empty());
  EXPECT_TRUE(bounded.more);
  EXPECT_FALSE(bounded.cursor.empty());
}

TEST_F(CustomerViewFoldTest, ChangesMoveSearchEntries) {
  Append(Registered("c1", "Acme", "North", "Retail", crm::events::v1::COMPANY));
  EventEnvelope update;
  update.mutable_customer_profile_updated()->add_changed_paths("display_name");
  update.mutable_customer_profile_updated()->add_changed_paths("region");
  update.mutable_customer_profile_updated()->mutable_profile()->set_display_name("北方公司");
  update.mutable_customer_profile_updated()->mutable_profile()->set_region("South");
  Append(Stamp("c1", 2, update));
  EventEnvelope tag;
  tag.mutable_customer_tagged()->set_tag("vip");
  Append(Stamp("c1", 3, tag));
  auto store = Fold("a");
  CustomerViews views(store.get());
  auto all = [](const crm::v1::Customer&) { return true; };
  EXPECT_TRUE(views.Search({.name_prefix = "acme"}, "", 10, 5000, all)->customers.empty());
  EXPECT_TRUE(views.Search({.region = "north"}, "", 10, 5000, all)->customers.empty());
  EXPECT_EQ(views.Search({.name_prefix = "北"}, "", 10, 5000, all)->customers.size(), 1u);
  EXPECT_EQ(views.Search({.tag = "vip", .region = "south"}, "", 10, 5000, all)->customers.size(),
            1u);
  // One entry per field the customer has: all, region, industry, kind, stage, tier, tag. No
  // entry of the old name or region is left.
  EXPECT_EQ(CountPrefix(*store, "s/"), 7u);
}

TEST_F(CustomerViewFoldTest, AMergedCustomerLeavesTheIndexesAndTheSurvivorTakesItsOwn) {
  Append(Registered("s1", "Acme", "", "Retail", crm::events::v1::COMPANY));
  Append(Registered("m1", "Acme Ltd", "North", "Retail", crm::events::v1::COMPANY));
  EventEnvelope tag;
  tag.mutable_customer_tagged()->set_tag("vip");
  Append(Stamp("m1", 2, tag));
  EventEnvelope into;
  into.mutable_customer_merged_into()->set_survivor_id("s1");
  Append(Stamp("m1", 3, into));
  EventEnvelope merged;
  auto* m = merged.mutable_customer_merged();
  m->set_merged_customer_id("m1");
  m->set_merged_customer_version(2);
  m->add_changed_paths("region");
  m->mutable_profile()->set_region("North");
  m->add_added_tags("vip");
  m->add_filled_fields("region");
  Append(Stamp("s1", 2, merged));
  auto store = Fold("a");
  CustomerViews views(store.get());
  auto all = [](const crm::v1::Customer&) { return true; };
  auto found = views.Search({.region = "north"}, "", 10, 5000, all);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->customers.size(), 1u);
  EXPECT_EQ(found->customers[0].name(), "customers/s1");
  auto listed = views.List({}, "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->customers.size(), 1u);
  EXPECT_EQ(listed->customers[0].name(), "customers/s1");
  EXPECT_THAT(listed->customers[0].tags(), ::testing::ElementsAre("vip"));
  EXPECT_EQ(listed->customers[0].merged_customers(0).name(), "customers/m1");
  auto loser = views.Get("m1");
  ASSERT_TRUE(loser.ok() && loser->has_value());
  EXPECT_EQ((*loser)->merged_into(), "customers/s1");
  // The survivor's entries only: all, region, industry, kind, stage, tier, tag.
  EXPECT_EQ(CountPrefix(*store, "s/"), 7u);
  // The merged customer's history is kept, ending with its CustomerMergedInto.
  auto history = views.History("m1", 0, 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->events.size(), 3u);
  EXPECT_TRUE(history->events[2].has_customer_merged_into());
}

TEST_F(CustomerViewFoldTest, RebuildGivesIdenticalBytes) {
  AppendScenario();
  auto a = Fold("a");
  auto b = Fold("b");
  EXPECT_EQ(Dump(*a), Dump(*b));
}

TEST_F(CustomerViewFoldTest, RedeliveredEventChangesNothing) {
  AppendScenario();
  auto store = Fold("a");
  const auto before = Dump(*store);
  auto reader = *log_.NewReader({{0, 0}});
  auto records = *reader->Poll(100, absl::Now() + absl::Seconds(5));
  kv::KvBatch batch = store->NewBatch();
  for (const auto& r : records) ASSERT_TRUE(fold_.Apply(r, batch).ok());
  ASSERT_TRUE(store->Write(batch).ok());
  EXPECT_EQ(Dump(*store), before);
}

TEST_F(CustomerViewFoldTest, GapIsDataLoss) {
  EventEnvelope tag;
  tag.mutable_customer_tagged()->set_tag("vip");
  eventlog::LogRecord record{{0, 0}, "ghost", Stamp("ghost", 2, tag).SerializeAsString(), {}};
  auto store = *kv::KvStore::Open((root_ / "gap").string());
  kv::KvBatch batch = store->NewBatch();
  EXPECT_EQ(fold_.Apply(record, batch).code(), absl::StatusCode::kDataLoss);
}

TEST_F(CustomerViewFoldTest, GarbageIsDataLoss) {
  eventlog::LogRecord record{{0, 0}, "x", "\xff\xff not a proto", {}};
  auto store = *kv::KvStore::Open((root_ / "garbage").string());
  kv::KvBatch batch = store->NewBatch();
  EXPECT_EQ(fold_.Apply(record, batch).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace crm::projections::customer
