#include "readmodel/complaint/complaint_views.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/kv/kv_store.h"
#include "gtest/gtest.h"
#include "projections/complaint/complaint_view_fold.h"
#include "readmodel/complaint/view_keys.h"
#include "tests/projections/complaint/complaint_event_builders.h"

namespace crm::readmodel::complaint {
namespace {

using crm::v1::Complaint;
using namespace crm::testing::complaint;  // NOLINT: test builders

TEST(ComplaintViewKeysTest, SortableTimeOrdersLikeTime) {
  const std::vector<absl::Time> times = {
      absl::FromUnixSeconds(-62'135'596'800),  // 0001-01-01
      absl::FromUnixSeconds(-1) + absl::Nanoseconds(5),
      absl::FromUnixSeconds(0),
      absl::FromUnixSeconds(0) + absl::Nanoseconds(1),
      absl::FromUnixSeconds(1'700'000'000),
      absl::FromUnixSeconds(1'700'000'000) + absl::Milliseconds(1),
      absl::FromUnixSeconds(253'402'300'799),  // 9999-12-31T23:59:59
  };
  for (size_t i = 1; i < times.size(); ++i) {
    EXPECT_LT(SortableTime(times[i - 1]), SortableTime(times[i])) << i;
    EXPECT_EQ(SortableTime(times[i]), SortableTime(Ts(times[i]))) << i;
  }
  EXPECT_EQ(SortableTime(absl::InfinitePast()), SortableTime(times.front()));
  EXPECT_GT(SortableTime(absl::InfiniteFuture()), SortableTime(times.back()));
  EXPECT_EQ(SortableTime(absl::FromUnixSeconds(0)).size(), 29u);
}

TEST(ComplaintViewKeysTest, DeadlineKeysSortByDueTimeAndNameTheComplaint) {
  const std::string name = ComplaintName("acme", "c1");
  const std::string key = DeadlineKey(Ts(T0()), name, crm::v1::RESOLUTION);
  EXPECT_EQ(NameFromDeadlineKey(key), name);
  EXPECT_EQ(NameFromDeadlineKey("cp/x/nope"), "");
  EXPECT_LT(key, DeadlinesDueBefore(T0() + absl::Nanoseconds(1)));
  EXPECT_GT(key, DeadlinesDueBefore(T0())) << "due exactly now has not passed";
  EXPECT_LT(
      DeadlineKey(Ts(T0()), "customers/z/complaints/z", crm::v1::RESPONSE),
      DeadlineKey(Ts(T0() + absl::Seconds(1)), "customers/a/complaints/a", crm::v1::RESPONSE));
}

TEST(ComplaintViewKeysTest, CustomerPrefixIsExact) {
  EXPECT_EQ(ComplaintKey(ComplaintName("ab", "x")).rfind(CustomerComplaintsPrefix("ab"), 0), 0u);
  EXPECT_NE(ComplaintKey(ComplaintName("abc", "x")).rfind(CustomerComplaintsPrefix("ab"), 0), 0u);
}

TEST(ComplaintOverdueRuleTest, OpenDeadlinesAndBreaches) {
  Complaint c;
  c.set_status(crm::v1::INVESTIGATING);
  *c.mutable_response_deadline()->mutable_due_time() = Ts(T0());
  *c.mutable_response_deadline()->mutable_met_time() = Ts(T0() - absl::Hours(1));
  *c.mutable_resolution_deadline()->mutable_due_time() = Ts(T0() + absl::Hours(10));
  EXPECT_EQ(OpenDeadlines(c).size(), 1u);
  EXPECT_FALSE(IsOverdue(c, T0() + absl::Hours(10)));
  EXPECT_TRUE(IsOverdue(c, T0() + absl::Hours(10) + absl::Nanoseconds(1)));
  c.mutable_response_deadline()->set_breached(true);
  EXPECT_TRUE(IsOverdue(c, T0()));
  for (auto s : {crm::v1::RESOLVED, crm::v1::FOLLOWED_UP, crm::v1::CLOSED}) {
    c.set_status(s);
    EXPECT_FALSE(IsOverdue(c, T0() + absl::Hours(100))) << s;
    EXPECT_TRUE(OpenDeadlines(c).empty());
  }
}

// Complaints spread over customers, statuses, assignees, categories, severities and deadlines.
class ComplaintViewsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("cp-list-" + base::NewUuid());
    store_ = *kv::KvStore::Open(root_.string());
    views_ = std::make_unique<ComplaintViews>(store_.get(), &clock_);
  }
  void TearDown() override {
    views_.reset();
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  void Feed(const std::vector<EventEnvelope>& events) {
    for (const auto& e : events) {
      kv::KvBatch batch = store_->NewBatch();
      eventlog::LogRecord record;
      record.value = e.SerializeAsString();
      ASSERT_TRUE(fold_.Apply(record, batch).ok());
      ASSERT_TRUE(store_->Write(batch).ok());
    }
  }
  // Filed at T0 with the given deadlines, then the first `steps` of the standard flow.
  void Make(const std::string& customer, const std::string& id, crm::v1::ComplaintCategory category,
            crm::v1::ComplaintSeverity severity, const std::string& assignee, int steps,
            absl::Duration response_in = absl::Hours(4),
            absl::Duration resolution_in = absl::Hours(24)) {
    const std::string name = ComplaintName(customer, id);
    std::vector<EventEnvelope> flow = {
        Filed(category, severity, T0() + response_in, T0() + resolution_in),
        Acknowledged("sam"),
        Assigned(assignee),
        InvestigationStarted(assignee),
        Resolved(assignee, crm::v1::PROCESS_GAP),
        FollowUp(true, 4, assignee),
        Closed(),
    };
    std::vector<EventEnvelope> stamped;
    for (int v = 0; v < steps; ++v) stamped.push_back(Stamp(name, v + 1, T0(), flow[v]));
    Feed(stamped);
  }
  std::vector<std::string> Names(const ComplaintViews::Filter& filter, size_t page_size = 100,
                                 absl::string_view after = "") {
    auto page = views_->List(filter, after, page_size);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    for (const auto& c : page->complaints) out.push_back(c.name());
    return out;
  }
  // Every page, following the cursor; checks `more` is false only on the last.
  std::vector<std::string> AllPages(const ComplaintViews::Filter& filter, size_t page_size) {
    std::vector<std::string> out;
    std::string after;
    for (int guard = 0; guard < 100; ++guard) {
      auto page = views_->List(filter, after, page_size);
      EXPECT_TRUE(page.ok()) << page.status();
      EXPECT_LE(page->complaints.size(), page_size);
      for (const auto& c : page->complaints) out.push_back(c.name());
      if (!page->more) break;
      EXPECT_EQ(page->complaints.size(), page_size);
      after = page->complaints.back().name();
    }
    return out;
  }

  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  base::FakeClock clock_{T0()};
  std::unique_ptr<ComplaintViews> views_;
  projections::complaint::ComplaintViewFold fold_;
};

TEST_F(ComplaintViewsTest, GetUnknownIsNullopt) {
  auto got = views_->Get(ComplaintName("acme", "none"));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  auto history = views_->History(ComplaintName("acme", "none"), 0, 10);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->events.empty());
}

TEST_F(ComplaintViewsTest, FiltersUseEachIndexAndCombine) {
  Make("acme", "a1", crm::v1::LOGISTICS, crm::v1::SEVERE, "alice", 3);        // ASSIGNED
  Make("acme", "a2", crm::v1::BILLING, crm::v1::MINOR, "bob", 4);             // INVESTIGATING
  Make("acme", "a3", crm::v1::LOGISTICS, crm::v1::GENERAL, "alice", 7);       // CLOSED
  Make("beta", "b1", crm::v1::LOGISTICS, crm::v1::SEVERE, "bob", 3);          // ASSIGNED
  Make("beta", "b2", crm::v1::PRODUCT_QUALITY, crm::v1::SEVERE, "alice", 1);  // FILED
  Make("acme-2", "z", crm::v1::OTHER_CATEGORY, crm::v1::MINOR, "carol", 2);   // ACKNOWLEDGED
  const std::string a1 = ComplaintName("acme", "a1"), a2 = ComplaintName("acme", "a2"),
                    a3 = ComplaintName("acme", "a3"), b1 = ComplaintName("beta", "b1"),
                    b2 = ComplaintName("beta", "b2"), z = ComplaintName("acme-2", "z");
  using V = std::vector<std::string>;

  EXPECT_EQ(Names({}), (V{z, a1, a2, a3, b1, b2})) << "name order: '-' sorts before '/'";
  EXPECT_EQ(Names({.customer_id = "acme"}), (V{a1, a2, a3}));
  EXPECT_EQ(Names({.customer_id = "beta"}), (V{b1, b2}));
  EXPECT_TRUE(Names({.customer_id = "acm"}).empty());
  EXPECT_EQ(Names({.status = crm::v1::ASSIGNED}), (V{a1, b1}));
  EXPECT_EQ(Names({.status = crm::v1::FILED}), (V{b2}));
  EXPECT_EQ(Names({.assignee = "alice"}), (V{a1, a3}));
  EXPECT_EQ(Names({.assignee = "bob"}), (V{a2, b1}));
  EXPECT_EQ(Names({.category = crm::v1::LOGISTICS}), (V{a1, a3, b1}));
  EXPECT_EQ(Names({.severity = crm::v1::SEVERE}), (V{a1, b1, b2}));
  EXPECT_EQ(Names({.severity = crm::v1::SEVERE, .customer_id = "beta"}), (V{b1, b2}));
  EXPECT_EQ(Names({.status = crm::v1::ASSIGNED, .assignee = "bob"}), (V{b1}));
  EXPECT_EQ(Names({.status = crm::v1::ASSIGNED,
                   .category = crm::v1::LOGISTICS,
                   .severity = crm::v1::SEVERE,
                   .customer_id = "acme"}),
            (V{a1}));
  EXPECT_TRUE(Names({.assignee = "alice", .severity = crm::v1::MINOR}).empty());
  EXPECT_TRUE(Names({.assignee = "nobody"}).empty());
}

TEST_F(ComplaintViewsTest, OverdueIsEvaluatedAtQueryTime) {
  // Response due in 1 h, 2 h, 3 h; one acknowledged (response met), one closed.
  Make("acme", "r1", crm::v1::LOGISTICS, crm::v1::SEVERE, "alice", 1, absl::Hours(1));
  Make("acme", "r2", crm::v1::LOGISTICS, crm::v1::GENERAL, "bob", 1, absl::Hours(2));
  Make("beta", "r3", crm::v1::BILLING, crm::v1::SEVERE, "alice", 3, absl::Hours(3));
  Make("beta", "r4", crm::v1::BILLING, crm::v1::SEVERE, "alice", 7, absl::Hours(1));
  const std::string r1 = ComplaintName("acme", "r1"), r2 = ComplaintName("acme", "r2"),
                    r3 = ComplaintName("beta", "r3");
  using V = std::vector<std::string>;
  ComplaintViews::Filter overdue{.overdue_only = true};

  EXPECT_TRUE(Names(overdue).empty());
  clock_.Set(T0() + absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(Names(overdue), (V{r1}));
  clock_.Set(T0() + absl::Hours(3) + absl::Seconds(1));
  EXPECT_EQ(Names(overdue), (V{r1, r2})) << "r3's response was met";
  // The resolution deadlines (24 h) pass: r3 too, but never the closed r4.
  clock_.Set(T0() + absl::Hours(25));
  EXPECT_EQ(Names(overdue), (V{r1, r2, r3}));
  // Combined with other filters (overdue scanned, the rest checked; or the narrower index).
  EXPECT_EQ(Names({.severity = crm::v1::SEVERE, .overdue_only = true}), (V{r1, r3}));
  EXPECT_EQ(Names({.assignee = "alice", .overdue_only = true}), (V{r3}));
  EXPECT_EQ(Names({.customer_id = "acme", .overdue_only = true}), (V{r1, r2}));
  EXPECT_EQ(Names({.status = crm::v1::FILED, .overdue_only = true}), (V{r1, r2}));
  // Paging through overdue.
  EXPECT_EQ(AllPages(overdue, 1), (V{r1, r2, r3}));
  EXPECT_EQ(AllPages(overdue, 2), (V{r1, r2, r3}));
  EXPECT_EQ(Names(overdue, 10, r1), (V{r2, r3}));
}

TEST_F(ComplaintViewsTest, BreachedUnresolvedIsOverdueBeforeAnyDeadlinePasses) {
  Make("acme", "x", crm::v1::LOGISTICS, crm::v1::SEVERE, "alice", 2, absl::Hours(4),
       absl::Hours(24));
  const std::string x = ComplaintName("acme", "x");
  Feed({Stamp(x, 3, T0(), SlaBreached(crm::v1::RESPONSE, T0() + absl::Hours(4), crm::v1::SEVERE))});
  // The clock says no deadline has passed (e.g. a replica with a slow clock): the breach counts.
  EXPECT_EQ(Names({.overdue_only = true}), std::vector<std::string>{x});
  EXPECT_EQ(AllPages({.overdue_only = true}, 1), std::vector<std::string>{x});
}

TEST_F(ComplaintViewsTest, PagesCoverEverythingOnceForEveryDrivingIndex) {
  std::vector<std::string> all;
  for (int i = 0; i < 23; ++i) {
    const std::string customer = i % 2 ? "acme" : "beta";
    const std::string id = absl::StrCat("c", i < 10 ? "0" : "", i);
    Make(customer, id, crm::v1::LOGISTICS, crm::v1::SEVERE, "alice", 3, absl::Hours(1));
    all.push_back(ComplaintName(customer, id));
  }
  std::sort(all.begin(), all.end());
  clock_.Set(T0() + absl::Hours(25));  // every resolution deadline has passed
  for (const ComplaintViews::Filter& f :
       {ComplaintViews::Filter{}, ComplaintViews::Filter{.status = crm::v1::ASSIGNED},
        ComplaintViews::Filter{.assignee = "alice"},
        ComplaintViews::Filter{.category = crm::v1::LOGISTICS},
        ComplaintViews::Filter{.severity = crm::v1::SEVERE},
        ComplaintViews::Filter{.overdue_only = true}}) {
    for (size_t size : {1u, 5u, 23u, 50u}) {
      EXPECT_EQ(AllPages(f, size), all) << "page size " << size;
    }
  }
  std::vector<std::string> acme;
  for (const auto& n : all) {
    if (n.rfind("customers/acme/", 0) == 0) acme.push_back(n);
  }
  EXPECT_EQ(AllPages({.customer_id = "acme"}, 4), acme);
  // An exactly full last page says so: no more.
  auto page = views_->List({}, "", 23);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->complaints.size(), 23u);
  EXPECT_FALSE(page->more);
}

}  // namespace
}  // namespace crm::readmodel::complaint
