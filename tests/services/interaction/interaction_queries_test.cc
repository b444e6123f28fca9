#include <set>
#include <string>
#include <vector>

#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/interaction/interaction_query_service.h"
#include "tests/domain/customer/status_test_util.h"
#include "tests/services/interaction/interaction_test_env.h"

namespace crm::services::interaction {
namespace {

using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::Reason;
using ::testing::ElementsAre;
using testing::EventEnvelope;
using testing::Ts;

class InteractionQueriesTest : public testing::InteractionTestEnv {
 protected:
  void SetUp() override {
    InteractionTestEnv::SetUp();
    queries_ = std::make_unique<InteractionQueries>(views_store_.get(), views_runner_.get(),
                                                    &clock_, InteractionQueries::Options{});
    SeedCustomer("acme");
    SeedCustomer("zeta");
    SeedStaff("ann");
    SeedStaff("bob");
  }
  void TearDown() override {
    queries_.reset();
    InteractionTestEnv::TearDown();
  }

  // Logs an interaction `hours_ago` before now by `staff`, with a follow-up due `due_in` hours
  // from now (none if 0). Returns the command's answer.
  crm::v1::InteractionCommandResponse Log(const std::string& customer, const std::string& id,
                                          const std::string& staff, int hours_ago, int due_in,
                                          crm::v1::Channel channel = crm::v1::PHONE) {
    auto request = LogRequest(customer);
    request.set_interaction_id(id);
    request.mutable_interaction()->set_staff_id(staff);
    request.mutable_interaction()->set_channel(channel);
    *request.mutable_interaction()->mutable_occurred_at() =
        Ts(clock_.Now() - absl::Hours(hours_ago));
    request.mutable_interaction()->set_summary("about " + id);
    if (due_in == 0) {
      request.mutable_interaction()->clear_follow_up_due_time();
    } else {
      *request.mutable_interaction()->mutable_follow_up_due_time() =
          Ts(clock_.Now() + absl::Hours(due_in));
    }
    auto response = handler_->LogInteraction(request, call_).Get();
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : crm::v1::InteractionCommandResponse();
  }

  std::vector<std::string> FollowUpNames(const crm::v1::ListFollowUpsResponse& response) {
    std::vector<std::string> out;
    for (const auto& f : response.follow_ups()) {
      out.push_back(f.interaction().name() + (f.overdue() ? " overdue" : ""));
    }
    return out;
  }

  std::unique_ptr<InteractionQueries> queries_;
};

TEST_F(InteractionQueriesTest, ReadsItsOwnWriteWithTheConsistencyToken) {
  auto logged = Log("acme", "i1", "ann", 1, 24);
  crm::v1::GetInteractionRequest get;
  get.set_name("customers/acme/interactions/i1");
  get.set_consistency_token(logged.consistency_token());
  auto found = queries_->Get(get, call_);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->version(), 1);
  EXPECT_EQ(found->summary(), "about i1");

  crm::v1::GetCustomerTimelineRequest timeline;
  timeline.set_parent("customers/acme");
  timeline.set_consistency_token(logged.consistency_token());
  auto entries = queries_->Timeline(timeline, call_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  // The registration (now), then the interaction (logged now, but it happened an hour ago).
  ASSERT_EQ(entries->entries_size(), 2);
  EXPECT_EQ(entries->entries(0).kind(), crm::v1::TIMELINE_PROFILE);
  EXPECT_EQ(entries->entries(0).resource(), "customers/acme");
  EXPECT_EQ(entries->entries(1).kind(), crm::v1::TIMELINE_INTERACTION);
  EXPECT_EQ(entries->entries(1).resource(), "customers/acme/interactions/i1");

  get.set_name("customers/acme/interactions/nope");
  EXPECT_EQ(Reason(queries_->Get(get, call_).status()), "INTERACTION_NOT_FOUND");
  get.set_name("acme");
  EXPECT_EQ(FirstField(queries_->Get(get, call_).status()), "name");
}

TEST_F(InteractionQueriesTest, ListInteractionsNewestFirstWithPagesAndChannel) {
  Log("acme", "old", "ann", 30, 0);
  Log("acme", "mid", "ann", 20, 0, crm::v1::EMAIL);
  auto last = Log("acme", "new", "bob", 10, 0);
  Log("zeta", "other", "ann", 5, 0);

  crm::v1::ListInteractionsRequest request;
  request.set_parent("customers/acme");
  request.set_page_size(2);
  request.set_consistency_token(last.consistency_token());
  std::vector<std::string> names;
  int pages = 0;
  do {
    auto page = queries_->List(request, call_);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& i : page->interactions()) names.push_back(i.name());
    request.set_page_token(page->next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(names,
              ElementsAre("customers/acme/interactions/new", "customers/acme/interactions/mid",
                          "customers/acme/interactions/old"));

  request.set_page_size(0);
  request.set_channel(crm::v1::EMAIL);
  auto email = queries_->List(request, call_);
  ASSERT_TRUE(email.ok());
  ASSERT_EQ(email->interactions_size(), 1);
  EXPECT_EQ(email->interactions(0).name(), "customers/acme/interactions/mid");

  // A token made for other filters is refused.
  request.set_page_size(1);
  request.clear_channel();
  auto first = queries_->List(request, call_);
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  request.set_channel(crm::v1::PHONE);
  EXPECT_EQ(FirstField(queries_->List(request, call_).status()), "page_token");

  crm::v1::ListInteractionsRequest unknown;
  unknown.set_parent("customers/ghost");
  EXPECT_EQ(Reason(queries_->List(unknown, call_).status()), "CUSTOMER_NOT_FOUND");
  unknown.set_page_size(-1);
  EXPECT_EQ(FirstField(queries_->List(unknown, call_).status()), "page_size");
}

TEST_F(InteractionQueriesTest, TimelineUnifiesComplaintsPurchasesAndInteractions) {
  SeedComplaint("acme", "c1");  // at now
  EventEnvelope purchase;
  auto* p = purchase.mutable_purchase_recorded()->mutable_purchase();
  p->set_product("Widget");
  p->mutable_amount()->set_currency_code("CNY");
  p->mutable_amount()->set_amount_minor(9900);
  *p->mutable_purchased_at() = Ts(clock_.Now() - absl::Hours(48));
  *purchase.mutable_occurred_at() = p->purchased_at();
  Seed("acme", "acme", "customers/acme", 2, purchase);
  auto logged = Log("acme", "i1", "ann", 3, 0);

  crm::v1::GetCustomerTimelineRequest request;
  request.set_parent("customers/acme");
  request.set_consistency_token(logged.consistency_token());
  auto page = queries_->Timeline(request, call_);
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<crm::v1::TimelineEntryKind> kinds;
  for (const auto& e : page->entries()) kinds.push_back(e.kind());
  // The complaint and the registration (both now), the interaction (3 h ago), the purchase (48 h
  // ago): in business-time order, newest first.
  ASSERT_EQ(kinds.size(), 4u);
  for (int i = 1; i < page->entries_size(); ++i) {
    const auto& a = page->entries(i - 1).time();
    const auto& b = page->entries(i).time();
    EXPECT_TRUE(a.seconds() > b.seconds() || (a.seconds() == b.seconds() && a.nanos() >= b.nanos()))
        << i;
  }
  EXPECT_EQ(kinds.back(), crm::v1::TIMELINE_PURCHASE);
  EXPECT_EQ(page->entries(3).summary(), "Purchase: Widget, CNY 99.00");

  request.add_kinds(crm::v1::TIMELINE_COMPLAINT);
  request.add_kinds(crm::v1::TIMELINE_INTERACTION);
  auto filtered = queries_->Timeline(request, call_);
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->entries_size(), 2);
  EXPECT_EQ(filtered->entries(0).kind(), crm::v1::TIMELINE_COMPLAINT);
  EXPECT_EQ(filtered->entries(0).summary(),
            "Complaint filed (general, logistics) via e-mail: Parcel late");
  EXPECT_EQ(filtered->entries(1).kind(), crm::v1::TIMELINE_INTERACTION);
  EXPECT_EQ(filtered->language_code(), "en");

  // The same entries in Chinese: rendered at query time from the stored events.
  request.set_language_code("zh-CN");
  auto chinese = queries_->Timeline(request, call_);
  ASSERT_TRUE(chinese.ok());
  EXPECT_EQ(chinese->language_code(), "zh");
  ASSERT_EQ(chinese->entries_size(), 2);
  EXPECT_EQ(chinese->entries(0).summary(), "投诉登记（一般，物流），渠道：电子邮件：Parcel late");
  request.set_language_code("not a tag");
  EXPECT_EQ(FirstField(queries_->Timeline(request, call_).status()), "language_code");
  request.clear_language_code();

  request.add_kinds(crm::v1::TIMELINE_ENTRY_KIND_UNSPECIFIED);
  EXPECT_EQ(FirstField(queries_->Timeline(request, call_).status()), "kinds[2]");
}

TEST_F(InteractionQueriesTest, FollowUpsDueAndOverduePerStaffMember) {
  Log("acme", "soon", "ann", 1, 2);
  Log("zeta", "later", "ann", 1, 48);
  Log("acme", "bobs", "bob", 1, 1);
  auto last = Log("acme", "none", "ann", 1, 0);

  crm::v1::ListFollowUpsRequest request;
  request.set_staff_id("ann");
  request.set_consistency_token(last.consistency_token());
  auto all = queries_->FollowUps(request, call_);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(FollowUpNames(*all),
              ElementsAre("customers/acme/interactions/soon", "customers/zeta/interactions/later"));
  EXPECT_EQ(all->now().seconds(), absl::ToUnixSeconds(clock_.Now()));

  // Three hours on, "soon" is overdue.
  clock_.Advance(absl::Hours(3));
  all = queries_->FollowUps(request, call_);
  EXPECT_THAT(FollowUpNames(*all), ElementsAre("customers/acme/interactions/soon overdue",
                                               "customers/zeta/interactions/later"));
  request.set_overdue_only(true);
  auto overdue = queries_->FollowUps(request, call_);
  EXPECT_THAT(FollowUpNames(*overdue), ElementsAre("customers/acme/interactions/soon overdue"));

  request.set_overdue_only(false);
  *request.mutable_due_before() = Ts(clock_.Now() + absl::Hours(100));
  EXPECT_EQ(queries_->FollowUps(request, call_)->follow_ups_size(), 2);
  *request.mutable_due_before() = Ts(clock_.Now() - absl::Hours(2));
  EXPECT_EQ(queries_->FollowUps(request, call_)->follow_ups_size(), 0);
  request.clear_due_before();

  // Paging.
  request.set_page_size(1);
  auto first = queries_->FollowUps(request, call_);
  ASSERT_EQ(first->follow_ups_size(), 1);
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  auto second = queries_->FollowUps(request, call_);
  ASSERT_EQ(second->follow_ups_size(), 1);
  EXPECT_EQ(second->follow_ups(0).interaction().name(), "customers/zeta/interactions/later");
  EXPECT_TRUE(second->next_page_token().empty());

  // Completing removes it.
  crm::v1::CompleteFollowUpRequest complete;
  complete.set_name("customers/acme/interactions/soon");
  auto done = handler_->CompleteFollowUp(complete, call_).Get();
  ASSERT_TRUE(done.ok()) << done.status();
  crm::v1::ListFollowUpsRequest after;
  after.set_staff_id("ann");
  after.set_consistency_token(done->consistency_token());
  EXPECT_THAT(FollowUpNames(*queries_->FollowUps(after, call_)),
              ElementsAre("customers/zeta/interactions/later"));

  after.clear_staff_id();
  EXPECT_EQ(FirstField(queries_->FollowUps(after, call_).status()), "staff_id");
}

TEST_F(InteractionQueriesTest, UnreachedTokenIsDeadlineExceeded) {
  auto logged = Log("acme", "i1", "ann", 1, 0);
  crm::v1::GetInteractionRequest get;
  get.set_name(logged.interaction().name());
  get.set_consistency_token(eventlog::EncodeConsistencyToken({{0, 1'000'000}}));
  rpc::CallContext call;
  call.deadline = absl::Now() + absl::Milliseconds(50);
  EXPECT_EQ(queries_->Get(get, call).status().code(), absl::StatusCode::kDeadlineExceeded);
  get.set_consistency_token("%%%");
  EXPECT_EQ(queries_->Get(get, call).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::services::interaction
