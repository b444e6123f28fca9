// DecideMerge and the Apply of CustomerMerged / CustomerMergedInto (proto/crm/v1/README.md,
// "Merging customers").
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/time_util.h"
#include "domain/customer/customer_aggregate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/decide_test_util.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::customer {
namespace {

using ::crm::domain::customer::testing::Context;
using ::crm::domain::customer::testing::kNow;
using ::crm::domain::customer::testing::MergeRequest;
using ::crm::domain::customer::testing::Meta;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::StampAndApply;
using ::crm::domain::customer::testing::ViolationFields;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

State Customer(absl::string_view id, const crm::v1::Customer& profile) {
  return testing::Registered(id, profile);
}

void Tag(State& state, absl::string_view tag) {
  crm::v1::TagCustomerRequest request;
  request.set_name(state.name());
  request.set_tag(std::string(tag));
  auto events = DecideTag(state, request, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  StampAndApply(state, *events, state.name().substr(10));
}

void Buy(State& state, int64_t amount, absl::string_view currency) {
  crm::v1::RecordPurchaseRequest request;
  request.set_name(state.name());
  request.mutable_purchase()->mutable_amount()->set_currency_code(std::string(currency));
  request.mutable_purchase()->mutable_amount()->set_amount_minor(amount);
  request.mutable_purchase()->set_product("kettle");
  *request.mutable_purchase()->mutable_purchased_at() = base::ToTimestamp(kNow - absl::Hours(1));
  auto events = DecideRecordPurchase(state, request, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  StampAndApply(state, *events, state.name().substr(10));
}

struct Pair {
  State survivor;
  State merged;
};

Pair MakePair() {
  crm::v1::Customer s;
  s.set_display_name("Ada Lovelace");
  s.set_kind(crm::v1::PERSON);
  s.add_emails("ada@example.com");
  (*s.mutable_attributes())["tax_id"] = "1";
  crm::v1::Customer m;
  m.set_display_name("A. Lovelace");
  m.set_kind(crm::v1::COMPANY);
  m.add_emails("ada.l@example.com");
  m.add_emails("ada@example.com");
  m.add_phones("+44 20 7946 0000");
  m.set_region("London");
  (*m.mutable_attributes())["tax_id"] = "2";
  (*m.mutable_attributes())["wechat"] = "ada";
  Pair pair{Customer("s", s), Customer("m", m)};
  Tag(pair.survivor, "vip");
  Tag(pair.merged, "vip");
  Tag(pair.merged, "newsletter");
  Buy(pair.survivor, 1000, "CNY");
  Buy(pair.merged, 2500, "CNY");
  Buy(pair.merged, 700, "USD");
  return pair;
}

TEST(CustomerMergeTest, SurvivorKeepsItsOwnAndTakesWhatItLacks) {
  Pair p = MakePair();
  auto decision = DecideMerge(p.survivor, p.merged, MergeRequest(),
                              {.interactions = 3, .complaints = 1}, Context());
  ASSERT_TRUE(decision.ok()) << decision.status();
  const crm::v1::MergeSummary& summary = decision->summary;
  EXPECT_EQ(summary.interaction_count(), 3);
  EXPECT_EQ(summary.complaint_count(), 1);
  EXPECT_EQ(summary.purchase_count(), 2);
  EXPECT_THAT(summary.tags(), ElementsAre("newsletter"));
  EXPECT_THAT(summary.emails(), ElementsAre("ada.l@example.com"));
  EXPECT_THAT(summary.phones(), ElementsAre("+442079460000"));
  EXPECT_THAT(summary.filled_fields(), ElementsAre("region", "attributes[\"wechat\"]"));
  EXPECT_EQ(decision->merged_event.customer_merged_into().survivor_id(), "s");
  EXPECT_EQ(decision->survivor_event.customer_merged().merged_customer_version(),
            p.merged.version());

  State survivor = p.survivor;
  State merged = p.merged;
  StampAndApply(merged, {decision->merged_event}, "m");
  StampAndApply(survivor, {decision->survivor_event}, "s");
  EXPECT_EQ(merged.merged_into(), "customers/s");
  EXPECT_EQ(survivor.display_name(), "Ada Lovelace");  // its own
  EXPECT_EQ(survivor.kind(), crm::v1::PERSON);
  EXPECT_EQ(survivor.region(), "London");  // it had none
  EXPECT_THAT(survivor.emails(), ElementsAre("ada@example.com", "ada.l@example.com"));
  EXPECT_THAT(survivor.phones(), ElementsAre("+442079460000"));
  EXPECT_EQ(survivor.attributes().at("tax_id"), "1");
  EXPECT_EQ(survivor.attributes().at("wechat"), "ada");
  EXPECT_THAT(survivor.tags(), ElementsAre("newsletter", "vip"));
  EXPECT_EQ(survivor.value().purchase_count(), 3);
  ASSERT_EQ(survivor.value().totals_size(), 2);
  EXPECT_EQ(survivor.value().totals(0).currency_code(), "CNY");
  EXPECT_EQ(survivor.value().totals(0).total_minor(), 3500);
  EXPECT_EQ(survivor.value().totals(0).purchase_count(), 2);
  EXPECT_EQ(survivor.value().totals(1).total_minor(), 700);
  ASSERT_EQ(survivor.merged_customers_size(), 1);
  EXPECT_EQ(survivor.merged_customers(0).name(), "customers/m");
  EXPECT_EQ(survivor.merged_customers(0).summary().SerializeAsString(),
            summary.SerializeAsString());
}

// The merged customer's purchases with ids go to the survivor one by one (those wholly refunded
// left out); purchases_moved says whether that is all of them.
TEST(CustomerMergeTest, PurchasesAreListedForTheSurvivor) {
  Pair p = MakePair();  // the merged customer has 2 purchases (2500 CNY, 700 USD)
  auto recorded = [](absl::string_view id, int64_t amount, absl::string_view currency,
                     int64_t refunded) {
    RecordedPurchase r;
    r.purchase.set_purchase_id(std::string(id));
    r.purchase.mutable_amount()->set_currency_code(std::string(currency));
    r.purchase.mutable_amount()->set_amount_minor(amount);
    r.refunded_minor = refunded;
    r.owner = "am-1";
    return r;
  };
  MergeCounts counts;
  counts.purchases = {recorded("a", 2500, "CNY", 500), recorded("b", 700, "USD", 0),
                      recorded("c", 90, "USD", 90)};  // c: wholly refunded, not counted
  auto decision = DecideMerge(p.survivor, p.merged, MergeRequest(), counts, Context());
  ASSERT_TRUE(decision.ok()) << decision.status();
  const auto& m = decision->survivor_event.customer_merged();
  ASSERT_EQ(m.merged_purchases_size(), 2);
  EXPECT_EQ(m.merged_purchases(0).purchase().purchase_id(), "a");
  EXPECT_EQ(m.merged_purchases(0).refunded_minor(), 500);
  EXPECT_EQ(m.merged_purchases(0).sold_by_owner(), "am-1");
  EXPECT_TRUE(m.purchases_moved());
  EXPECT_TRUE(decision->merged_event.customer_merged_into().purchases_moved());

  counts.purchases.pop_back();
  counts.purchases.pop_back();  // "b" recorded without an id: not in the ledger
  decision = DecideMerge(p.survivor, p.merged, MergeRequest(), counts, Context());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->survivor_event.customer_merged().merged_purchases_size(), 1);
  EXPECT_FALSE(decision->survivor_event.customer_merged().purchases_moved());
  EXPECT_FALSE(decision->merged_event.customer_merged_into().purchases_moved());
}

TEST(CustomerMergeTest, AMergedCustomerRefusesCommands) {
  Pair p = MakePair();
  auto decision = DecideMerge(p.survivor, p.merged, MergeRequest(), {}, Context());
  ASSERT_TRUE(decision.ok());
  StampAndApply(p.merged, {decision->merged_event}, "m");
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/m");
  tag.set_tag("late");
  auto refused = DecideTag(p.merged, tag, Context());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(refused.status()), "CUSTOMER_MERGED");
  EXPECT_EQ(Meta(refused.status(), "survivor"), "customers/s");
  EXPECT_EQ(CheckNotMerged(p.survivor).code(), absl::StatusCode::kOk);
}

TEST(CustomerMergeTest, BadRequestsNameTheirFields) {
  Pair p = MakePair();
  auto self = DecideMerge(p.survivor, p.survivor, MergeRequest("customers/s", "customers/s"), {},
                          Context());
  EXPECT_THAT(ViolationFields(self.status()), ElementsAre("merged"));
  auto malformed = DecideMerge(State(), State(), MergeRequest("nope", "customers/"), {}, Context());
  EXPECT_THAT(ViolationFields(malformed.status()), ElementsAre("survivor", "merged"));
  crm::v1::MergeCustomersRequest etags = MergeRequest();
  etags.set_survivor_etag("x");
  etags.set_merged_etag("v1");
  EXPECT_THAT(ViolationFields(DecideMerge(p.survivor, p.merged, etags, {}, Context()).status()),
              ElementsAre("survivor_etag"));
}

TEST(CustomerMergeTest, MissingStaleAndMergedCustomersAreRefused) {
  Pair p = MakePair();
  auto missing = DecideMerge(p.survivor, State(), MergeRequest(), {}, Context());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), ::testing::HasSubstr("customers/m"));
  crm::v1::MergeCustomersRequest stale = MergeRequest();
  stale.set_merged_etag("v1");
  EXPECT_EQ(DecideMerge(p.survivor, p.merged, stale, {}, Context()).status().code(),
            absl::StatusCode::kAborted);

  auto decision = DecideMerge(p.survivor, p.merged, MergeRequest(), {}, Context());
  ASSERT_TRUE(decision.ok());
  State merged = p.merged;
  State survivor = p.survivor;
  StampAndApply(merged, {decision->merged_event}, "m");
  StampAndApply(survivor, {decision->survivor_event}, "s");
  auto again = DecideMerge(survivor, merged, MergeRequest(), {}, Context());
  EXPECT_EQ(Reason(again.status()), "ALREADY_MERGED");
  // Into a merged customer.
  auto into =
      DecideMerge(merged, survivor, MergeRequest("customers/m", "customers/s"), {}, Context());
  EXPECT_EQ(into.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(into.status()), "CUSTOMER_MERGED");
  EXPECT_EQ(Meta(into.status(), "survivor"), "customers/s");
}

TEST(CustomerMergeTest, TheUnionMustFitTheLimits) {
  crm::v1::Customer a;
  a.set_display_name("A");
  a.set_kind(crm::v1::PERSON);
  crm::v1::Customer b = a;
  for (int i = 0; i < 6; ++i) {
    a.add_emails(absl::StrCat("a", i, "@example.com"));
    b.add_emails(absl::StrCat("b", i, "@example.com"));
  }
  auto decision = DecideMerge(Customer("s", a), Customer("m", b), MergeRequest(), {}, Context());
  EXPECT_EQ(decision.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(decision.status()), "TOO_MANY_EMAILS");
}

TEST(CustomerMergeTest, NothingToTakeStillMerges) {
  crm::v1::Customer a;
  a.set_display_name("A");
  a.set_kind(crm::v1::PERSON);
  State s = Customer("s", a);
  State m = Customer("m", a);
  auto decision = DecideMerge(s, m, MergeRequest(), {}, Context());
  ASSERT_TRUE(decision.ok());
  EXPECT_THAT(decision->survivor_event.customer_merged().changed_paths(), IsEmpty());
  StampAndApply(s, {decision->survivor_event}, "s");
  EXPECT_EQ(s.merged_customers_size(), 1);
  EXPECT_EQ(s.value_tier(), crm::v1::POTENTIAL_VALUE);
}

// The merged customer's external id moves to a survivor without one (its reservation follows in
// the handler); a survivor with its own keeps it.
TEST(CustomerMergeTest, TheExternalIdMovesOnlyToASurvivorWithoutOne) {
  crm::v1::Customer a;
  a.set_display_name("A");
  a.set_kind(crm::v1::PERSON);
  crm::v1::Customer b = a;
  b.set_external_id("ERP-9");
  State s = Customer("s", a);
  State m = Customer("m", b);
  auto decision = DecideMerge(s, m, MergeRequest(), {}, Context());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_THAT(decision->summary.filled_fields(), ElementsAre("external_id"));
  EXPECT_THAT(decision->survivor_event.customer_merged().changed_paths(),
              ElementsAre("external_id"));
  StampAndApply(s, {decision->survivor_event}, "s");
  EXPECT_EQ(s.external_id(), "ERP-9");

  a.set_external_id("ERP-1");
  State own = Customer("s", a);
  auto kept = DecideMerge(own, Customer("m", b), MergeRequest(), {}, Context());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_THAT(kept->summary.filled_fields(), IsEmpty());
  StampAndApply(own, {kept->survivor_event}, "s");
  EXPECT_EQ(own.external_id(), "ERP-1");
}

}  // namespace
}  // namespace crm::domain::customer
