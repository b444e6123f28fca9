// Unit tests of SegmentFold and SegmentViews: value tier and its changes, lifetime value, RFM
// thresholds, segment sizes and the lifecycle funnel, on small hand-made histories folded by a
// real FoldRunner into a real KvStore. The figures are defined in docs/analytics.md.
#include "projections/segment/segment_fold.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/customer/event_codec.h"
#include "gtest/gtest.h"
#include "readmodel/analytics/figures.h"
#include "readmodel/segment/segment_views.h"

namespace crm::projections::segment {
namespace {

using crm::events::v1::EventEnvelope;
using readmodel::analytics::ToTimestamp;
using readmodel::segment::MainCurrency;
using readmodel::segment::ScoreRfm;

const absl::Time kT0 = absl::FromUnixSeconds(1'717'200'000);  // 2024-06-01T00:00:00Z
const absl::Duration kDay = absl::Hours(24);

class SegmentFoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("segment-" + base::NewUuid());
    store_ = *kv::KvStore::Open(root_.string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  EventEnvelope Append(const std::string& customer, absl::Time at, EventEnvelope e,
                       std::string aggregate = "") {
    if (aggregate.empty()) aggregate = absl::StrCat("customers/", customer);
    e.set_event_id(base::NewUuid());
    e.set_customer_id(customer);
    e.set_aggregate(aggregate);
    e.set_aggregate_version(++versions_[aggregate]);
    *e.mutable_occurred_at() = ToTimestamp(at);
    *e.mutable_recorded_at() = ToTimestamp(at);
    e.set_schema_version(1);
    AppendRaw(customer.empty() ? "org" : customer, e.SerializeAsString());
    return e;
  }
  void AppendRaw(const std::string& key, const std::string& value) {
    ASSERT_TRUE(log_.Append(key, {{value, {}}}, absl::Now() + absl::Seconds(5)).ok());
  }
  void FoldAll(int64_t dead_letters = 0) {
    fold::FoldRunner runner(&log_, store_.get(), &fold_, {.name = "segment"});
    ASSERT_TRUE(runner.CatchUp().ok());
    EXPECT_EQ(runner.dead_letters(), dead_letters);
  }

  void Register(const std::string& id, absl::Time at,
                crm::v1::LifecycleStage stage = crm::v1::LIFECYCLE_STAGE_UNSPECIFIED) {
    EventEnvelope e;
    e.mutable_customer_registered()->mutable_profile()->set_display_name(id);
    e.mutable_customer_registered()->set_lifecycle_stage(crm::domain::customer::ToEvent(stage));
    Append(id, at, e);
  }
  void Move(const std::string& id, absl::Time at, crm::v1::LifecycleStage from,
            crm::v1::LifecycleStage to) {
    EventEnvelope e;
    e.mutable_lifecycle_stage_changed()->set_from_stage(crm::domain::customer::ToEvent(from));
    e.mutable_lifecycle_stage_changed()->set_to_stage(crm::domain::customer::ToEvent(to));
    Append(id, at, e);
  }
  void Purchase(const std::string& id, absl::Time at, const std::string& currency, int64_t minor,
                crm::v1::ValueTier new_tier = crm::v1::VALUE_TIER_UNSPECIFIED) {
    EventEnvelope e;
    auto* p = e.mutable_purchase_recorded()->mutable_purchase();
    p->mutable_amount()->set_currency_code(currency);
    p->mutable_amount()->set_amount_minor(minor);
    *p->mutable_purchased_at() = ToTimestamp(at);
    e.mutable_purchase_recorded()->set_new_value_tier(crm::domain::customer::ToEvent(new_tier));
    Append(id, at, e);
  }

  readmodel::segment::SegmentViews views() const {
    return readmodel::segment::SegmentViews(store_.get());
  }

  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  eventlog::InMemoryEventLog log_{2};
  SegmentFold fold_;
  std::map<std::string, int64_t> versions_;
};

crm::v1::ValueFigures Figures(std::vector<std::tuple<std::string, int64_t, int64_t>> totals,
                              absl::Time last) {
  crm::v1::ValueFigures v;
  for (const auto& [code, total, count] : totals) {
    auto* t = v.add_totals();
    t->set_currency_code(code);
    t->set_total_minor(total);
    t->set_purchase_count(count);
    v.set_purchase_count(v.purchase_count() + count);
  }
  *v.mutable_last_purchase_time() = ToTimestamp(last);
  return v;
}

TEST(RfmTest, ScoresAtTheDocumentedThresholds) {
  const absl::Time last = kT0;
  auto recency = [&](absl::Duration since) {
    return ScoreRfm(Figures({{"CNY", 100, 1}}, last), last + since).recency();
  };
  EXPECT_EQ(recency(absl::ZeroDuration()), 5);
  EXPECT_EQ(recency(31 * kDay - absl::Seconds(1)), 5);  // 30 whole days
  EXPECT_EQ(recency(31 * kDay), 4);
  EXPECT_EQ(recency(90 * kDay), 4);
  EXPECT_EQ(recency(91 * kDay), 3);
  EXPECT_EQ(recency(180 * kDay), 3);
  EXPECT_EQ(recency(181 * kDay), 2);
  EXPECT_EQ(recency(365 * kDay), 2);
  EXPECT_EQ(recency(366 * kDay), 1);
  EXPECT_EQ(recency(-3 * kDay), 5);  // A purchase after as_of counts as today.
  EXPECT_EQ(ScoreRfm(Figures({{"CNY", 100, 1}}, last), last - 3 * kDay).days_since_last_purchase(),
            0);

  auto frequency = [&](int64_t n) {
    return ScoreRfm(Figures({{"CNY", 100, n}}, last), last).frequency();
  };
  EXPECT_EQ(frequency(1), 1);
  EXPECT_EQ(frequency(2), 2);
  EXPECT_EQ(frequency(4), 2);
  EXPECT_EQ(frequency(5), 3);
  EXPECT_EQ(frequency(10), 4);
  EXPECT_EQ(frequency(19), 4);
  EXPECT_EQ(frequency(20), 5);

  auto monetary = [&](int64_t minor) {
    return ScoreRfm(Figures({{"CNY", minor, 1}}, last), last).monetary();
  };
  EXPECT_EQ(monetary(1), 1);
  EXPECT_EQ(monetary(9'999), 1);
  EXPECT_EQ(monetary(10'000), 2);
  EXPECT_EQ(monetary(100'000), 3);
  EXPECT_EQ(monetary(500'000), 4);
  EXPECT_EQ(monetary(999'999), 4);
  EXPECT_EQ(monetary(1'000'000), 5);

  const crm::v1::RfmScores none = ScoreRfm(crm::v1::ValueFigures(), last);
  EXPECT_EQ(none.recency() + none.frequency() + none.monetary(), 0);
  EXPECT_EQ(none.cell(), "000");
  EXPECT_EQ(ScoreRfm(Figures({{"CNY", 600'000, 12}}, last), last + 40 * kDay).cell(), "444");
}

TEST(RfmTest, MonetaryUsesTheMainCurrency) {
  // USD has more purchases, so it is the main currency even though CNY spent more.
  const auto v = Figures({{"CNY", 5'000'000, 1}, {"USD", 20'000, 2}}, kT0);
  EXPECT_EQ(MainCurrency(v), "USD");
  EXPECT_EQ(ScoreRfm(v, kT0).monetary(), 2);
  // Equal counts: the larger total; then the smaller code.
  EXPECT_EQ(MainCurrency(Figures({{"CNY", 100, 2}, {"EUR", 200, 2}}, kT0)), "EUR");
  EXPECT_EQ(MainCurrency(Figures({{"EUR", 100, 2}, {"USD", 100, 2}}, kT0)), "EUR");
  EXPECT_EQ(MainCurrency(crm::v1::ValueFigures()), "");
}

TEST_F(SegmentFoldTest, TierChangesAndLifetimeValue) {
  Register("c1", kT0);
  Purchase("c1", kT0 + kDay, "CNY", 50'000, crm::v1::ORDINARY);
  Purchase("c1", kT0 + 2 * kDay, "USD", 7'000);
  // Back-dated: not the last purchase time.
  Purchase("c1", kT0 + kDay / 2, "CNY", 960'000, crm::v1::HIGH_VALUE);
  FoldAll();

  auto value = views().GetCustomerValue("c1", kT0 + 10 * kDay);
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_TRUE(value->has_value());
  const crm::v1::CustomerValue& v = **value;
  EXPECT_EQ(v.name(), "customers/c1");
  EXPECT_EQ(v.value_tier(), crm::v1::HIGH_VALUE);
  ASSERT_EQ(v.lifetime_value().totals_size(), 2);
  EXPECT_EQ(v.lifetime_value().totals(0).currency_code(), "CNY");
  EXPECT_EQ(v.lifetime_value().totals(0).total_minor(), 1'010'000);
  EXPECT_EQ(v.lifetime_value().totals(0).purchase_count(), 2);
  EXPECT_EQ(v.lifetime_value().totals(1).currency_code(), "USD");
  EXPECT_EQ(v.lifetime_value().purchase_count(), 3);
  EXPECT_EQ(v.lifetime_value().last_purchase_time().seconds(), absl::ToUnixSeconds(kT0 + 2 * kDay));
  EXPECT_EQ(v.main_currency(), "CNY");
  EXPECT_EQ(v.rfm().days_since_last_purchase(), 8);
  EXPECT_EQ(v.rfm().cell(), "525");
  EXPECT_EQ(v.as_of().seconds(), absl::ToUnixSeconds(kT0 + 10 * kDay));
  ASSERT_EQ(v.tier_changes_size(), 3);
  EXPECT_EQ(v.tier_changes(0).from_tier(), crm::v1::VALUE_TIER_UNSPECIFIED);
  EXPECT_EQ(v.tier_changes(0).to_tier(), crm::v1::POTENTIAL_VALUE);
  EXPECT_EQ(v.tier_changes(0).change_time().seconds(), absl::ToUnixSeconds(kT0));
  EXPECT_EQ(v.tier_changes(1).from_tier(), crm::v1::POTENTIAL_VALUE);
  EXPECT_EQ(v.tier_changes(1).to_tier(), crm::v1::ORDINARY);
  EXPECT_EQ(v.tier_changes(2).from_tier(), crm::v1::ORDINARY);
  EXPECT_EQ(v.tier_changes(2).to_tier(), crm::v1::HIGH_VALUE);
  EXPECT_EQ(v.tier_changes(2).change_time().seconds(), absl::ToUnixSeconds(kT0 + kDay / 2));
  EXPECT_EQ(v.version(), 4);

  auto unknown = views().GetCustomerValue("nobody", kT0);
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(SegmentFoldTest, SegmentSizesFollowTiersAndStages) {
  Register("c1", kT0);
  Register("c2", kT0, crm::v1::NEED_CONFIRMED);
  Register("c3", kT0, crm::v1::POTENTIAL);
  Purchase("c1", kT0 + kDay, "CNY", 100, crm::v1::ORDINARY);
  Move("c3", kT0 + kDay, crm::v1::POTENTIAL, crm::v1::CHURNED);
  FoldAll();

  auto sizes = views().GetSegmentSizes();
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_EQ(sizes->customers(), 3);
  ASSERT_EQ(sizes->value_tiers_size(), 3);
  EXPECT_EQ(sizes->value_tiers(0).value_tier(), crm::v1::HIGH_VALUE);
  EXPECT_EQ(sizes->value_tiers(0).customers(), 0);
  EXPECT_EQ(sizes->value_tiers(1).customers(), 1);  // ORDINARY
  EXPECT_EQ(sizes->value_tiers(2).customers(), 2);  // POTENTIAL_VALUE
  ASSERT_EQ(sizes->lifecycle_stages_size(), 7);
  EXPECT_EQ(sizes->lifecycle_stages(crm::v1::POTENTIAL - 1).customers(), 1);
  EXPECT_EQ(sizes->lifecycle_stages(crm::v1::NEED_CONFIRMED - 1).customers(), 1);
  EXPECT_EQ(sizes->lifecycle_stages(crm::v1::CHURNED - 1).customers(), 1);
  EXPECT_EQ(sizes->lifecycle_stages(crm::v1::FIRST_CONTACT - 1).customers(), 0);
}

TEST_F(SegmentFoldTest, AMergedCustomerIsCountedOnceAsItsSurvivor) {
  Register("s", kT0);
  Register("m", kT0, crm::v1::NEED_CONFIRMED);
  Purchase("s", kT0 + kDay, "CNY", 100, crm::v1::ORDINARY);
  Purchase("m", kT0 + kDay, "CNY", 250, crm::v1::ORDINARY);
  {
    EventEnvelope into;
    into.mutable_customer_merged_into()->set_survivor_id("s");
    Append("m", kT0 + 2 * kDay, into);
    EventEnvelope merged;
    auto* m = merged.mutable_customer_merged();
    m->set_merged_customer_id("m");
    m->set_merged_customer_version(2);
    auto* total = m->add_merged_totals();
    total->set_currency_code("CNY");
    total->set_total_minor(250);
    total->set_purchase_count(1);
    m->set_merged_purchase_count(1);
    *m->mutable_merged_last_purchase_time() = ToTimestamp(kT0 + kDay);
    Append("s", kT0 + 2 * kDay, merged);
  }
  FoldAll();

  auto sizes = views().GetSegmentSizes();
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_EQ(sizes->customers(), 1);
  EXPECT_EQ(sizes->value_tiers(1).customers(), 1);  // ORDINARY: the survivor only
  EXPECT_EQ(sizes->lifecycle_stages(crm::v1::POTENTIAL - 1).customers(), 1);
  EXPECT_EQ(sizes->lifecycle_stages(crm::v1::NEED_CONFIRMED - 1).customers(), 0);
  auto survivor = views().GetCustomerValue("s", kT0 + 3 * kDay);
  ASSERT_TRUE(survivor.ok() && survivor->has_value()) << survivor.status();
  EXPECT_EQ((*survivor)->lifetime_value().purchase_count(), 2);
  EXPECT_EQ((*survivor)->lifetime_value().totals(0).total_minor(), 350);
}

TEST_F(SegmentFoldTest, FunnelCountsMovesInTheWindowWithConversionAndMedianStay) {
  using crm::v1::CHURNED;
  using crm::v1::FIRST_CONTACT;
  using crm::v1::NEED_CONFIRMED;
  using crm::v1::POTENTIAL;
  // c1: POTENTIAL 2 days, FIRST_CONTACT 3 days, then NEED_CONFIRMED.
  Register("c1", kT0);
  Move("c1", kT0 + 2 * kDay, POTENTIAL, FIRST_CONTACT);
  Move("c1", kT0 + 5 * kDay, FIRST_CONTACT, NEED_CONFIRMED);
  // c2: POTENTIAL 4 days, then churned.
  Register("c2", kT0);
  Move("c2", kT0 + 4 * kDay, POTENTIAL, CHURNED);
  // c3: POTENTIAL 6 days then FIRST_CONTACT; c4: POTENTIAL 10 days then FIRST_CONTACT.
  Register("c3", kT0);
  Move("c3", kT0 + 6 * kDay, POTENTIAL, FIRST_CONTACT);
  Register("c4", kT0);
  Move("c4", kT0 + 10 * kDay, POTENTIAL, FIRST_CONTACT);
  FoldAll();

  // [day 2, day 10): c1's two moves, c2's churn and c3's move; not c4's.
  auto funnel = views().GetLifecycleFunnel(kT0 + 2 * kDay, kT0 + 10 * kDay);
  ASSERT_TRUE(funnel.ok()) << funnel.status();
  EXPECT_EQ(funnel->start_time().seconds(), absl::ToUnixSeconds(kT0 + 2 * kDay));
  EXPECT_EQ(funnel->transition_count(), 4);
  ASSERT_EQ(funnel->transitions_size(), 3);
  EXPECT_EQ(funnel->transitions(0).from_stage(), POTENTIAL);
  EXPECT_EQ(funnel->transitions(0).to_stage(), FIRST_CONTACT);
  EXPECT_EQ(funnel->transitions(0).count(), 2);
  EXPECT_EQ(funnel->transitions(1).to_stage(), CHURNED);
  EXPECT_EQ(funnel->transitions(2).from_stage(), FIRST_CONTACT);
  ASSERT_EQ(funnel->conversions_size(), 5);
  EXPECT_EQ(funnel->conversions(0).from_stage(), POTENTIAL);
  EXPECT_EQ(funnel->conversions(0).exits(), 3);
  EXPECT_EQ(funnel->conversions(0).converted(), 2);
  EXPECT_DOUBLE_EQ(funnel->conversions(0).rate(), 2.0 / 3.0);
  EXPECT_EQ(funnel->conversions(1).exits(), 1);
  EXPECT_DOUBLE_EQ(funnel->conversions(1).rate(), 1.0);
  EXPECT_EQ(funnel->conversions(2).exits(), 0);
  EXPECT_EQ(funnel->conversions(2).rate(), 0.0);
  ASSERT_EQ(funnel->time_in_stage_size(), 2);
  EXPECT_EQ(funnel->time_in_stage(0).stage(), POTENTIAL);
  EXPECT_EQ(funnel->time_in_stage(0).stays(), 3);
  EXPECT_EQ(funnel->time_in_stage(0).median().seconds(), absl::ToInt64Seconds(4 * kDay));
  EXPECT_EQ(funnel->time_in_stage(1).median().seconds(), absl::ToInt64Seconds(3 * kDay));

  // Without a window: all five moves; the lower median of {2, 4, 6, 10} days is 4 days.
  auto all = views().GetLifecycleFunnel(std::nullopt, std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->transition_count(), 5);
  EXPECT_EQ(all->time_in_stage(0).median().seconds(), absl::ToInt64Seconds(4 * kDay));
  EXPECT_FALSE(all->has_start_time());
  ASSERT_EQ(all->current_stages_size(), 7);
  EXPECT_EQ(all->current_stages(FIRST_CONTACT - 1).customers(), 2);
  EXPECT_EQ(all->current_stages(NEED_CONFIRMED - 1).customers(), 1);
  EXPECT_EQ(all->current_stages(CHURNED - 1).customers(), 1);

  // The window end is exclusive and its start inclusive.
  auto edge = views().GetLifecycleFunnel(kT0 + 10 * kDay, std::nullopt);
  EXPECT_EQ(edge->transition_count(), 1);
  auto before = views().GetLifecycleFunnel(std::nullopt, kT0 + 2 * kDay);
  EXPECT_EQ(before->transition_count(), 0);
}

TEST_F(SegmentFoldTest, RedeliveredAndForeignEventsChangeNothing) {
  Register("c1", kT0);
  EventEnvelope p;
  p.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_currency_code("CNY");
  p.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_amount_minor(500);
  p.mutable_purchase_recorded()->set_new_value_tier(crm::events::v1::ORDINARY);
  const EventEnvelope purchase = Append("c1", kT0 + kDay, p);
  FoldAll();
  AppendRaw("c1", purchase.SerializeAsString());  // Redelivered.
  // Events of other aggregates of the customer and of the org are not segment facts.
  EventEnvelope filed;
  filed.mutable_complaint_filed()->set_description("x");
  Append("c1", kT0, filed, "customers/c1/complaints/k1");
  EventEnvelope staff;
  staff.mutable_staff_added()->mutable_staff()->set_name("staff/s1");
  Append("", kT0, staff, "staff/s1");
  // A purchase of a customer never registered is a damaged log: the domain's Apply refuses it,
  // so it is a dead letter here as in every view, and counts nowhere.
  Purchase("ghost", kT0, "CNY", 100);
  FoldAll(/*dead_letters=*/1);

  auto value = views().GetCustomerValue("c1", kT0);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ((*value)->lifetime_value().purchase_count(), 1);
  EXPECT_EQ((*value)->lifetime_value().totals(0).total_minor(), 500);
  EXPECT_EQ((*value)->tier_changes_size(), 2);
  EXPECT_FALSE(views().GetCustomerValue("ghost", kT0)->has_value());
  EXPECT_EQ(views().GetSegmentSizes()->customers(), 1);
}

// Issue 8: CustomerValue.version was the version of the last registration, move or purchase, not
// the customer's version (12 of 43 customers differed from outside).
TEST_F(SegmentFoldTest, VersionIsTheCustomersVersion) {
  Register("c1", kT0);
  EventEnvelope tagged;
  tagged.mutable_customer_tagged()->set_tag("vip");
  Append("c1", kT0 + kDay, tagged);
  Purchase("c1", kT0 + kDay, "CNY", 500, crm::v1::ORDINARY);
  EventEnvelope owner;
  owner.mutable_owner_assigned()->set_owner("s1");
  Append("c1", kT0 + 2 * kDay, owner);
  FoldAll();
  auto value = views().GetCustomerValue("c1", kT0 + 3 * kDay);
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_EQ((*value)->version(), 4);
  EXPECT_EQ((*value)->lifetime_value().purchase_count(), 1);
  EXPECT_EQ(views().GetSegmentSizes()->customers(), 1);
}

}  // namespace
}  // namespace crm::projections::segment
