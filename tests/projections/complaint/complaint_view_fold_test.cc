#include "projections/complaint/complaint_view_fold.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "gtest/gtest.h"
#include "readmodel/complaint/complaint_views.h"
#include "readmodel/complaint/view_keys.h"
#include "tests/projections/complaint/complaint_event_builders.h"

namespace crm::projections::complaint {
namespace {

using crm::v1::Complaint;
using readmodel::complaint::ComplaintViews;
using namespace crm::testing::complaint;  // NOLINT: test builders

std::map<std::string, std::string> Dump(const kv::KvStore& store, absl::string_view prefix = "") {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(store
                  .ScanPrefix(prefix, "", 0,
                              [&](absl::string_view k, absl::string_view v) {
                                out.emplace(std::string(k), std::string(v));
                                return true;
                              })
                  .ok());
  return out;
}

class ComplaintViewFoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("cp-views-" + base::NewUuid());
    store_ = *kv::KvStore::Open((root_ / "direct").string());
    views_ = std::make_unique<ComplaintViews>(store_.get(), &clock_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  // Applies one record through the fold, as the runner would, in its own batch.
  absl::Status Feed(const EventEnvelope& e) { return FeedRaw(e.SerializeAsString()); }
  absl::Status FeedRaw(const std::string& value) {
    kv::KvBatch batch = store_->NewBatch();
    eventlog::LogRecord record;
    record.value = value;
    absl::Status s = fold_.Apply(record, batch);
    if (s.ok()) {
      last_batch_count_ = batch.Count();
      EXPECT_TRUE(store_->Write(batch).ok());
    }
    return s;
  }
  Complaint Get(const std::string& name) {
    auto got = views_->Get(name);
    EXPECT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got->has_value()) << name;
    return got->value_or(Complaint());
  }
  std::vector<std::string> Names(const ComplaintViews::Filter& filter) {
    auto page = views_->List(filter, "", 100);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    for (const auto& c : page->complaints) out.push_back(c.name());
    return out;
  }

  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  base::FakeClock clock_{T0()};
  std::unique_ptr<ComplaintViews> views_;
  ComplaintViewFold fold_;
  size_t last_batch_count_ = 0;
};

using FoldTest = ComplaintViewFoldTest;

const std::string kName = ComplaintName("acme", "c1");

TEST_F(FoldTest, FullFlowSetsStatusDeadlinesAndEnvelopeFields) {
  const absl::Time t = T0();
  ASSERT_TRUE(Feed(Stamp(kName, 1, t,
                         Filed(crm::v1::LOGISTICS, crm::v1::SEVERE, t + absl::Hours(4),
                               t + absl::Hours(24))))
                  .ok());
  Complaint c = Get(kName);
  EXPECT_EQ(c.name(), kName);
  EXPECT_EQ(c.status(), crm::v1::FILED);
  EXPECT_EQ(c.channel(), crm::v1::PHONE);
  EXPECT_EQ(c.category(), crm::v1::LOGISTICS);
  EXPECT_EQ(c.severity(), crm::v1::SEVERE);
  EXPECT_EQ(c.response_deadline().kind(), crm::v1::RESPONSE);
  EXPECT_EQ(c.response_deadline().due_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(4)));
  EXPECT_EQ(c.resolution_deadline().kind(), crm::v1::RESOLUTION);
  EXPECT_FALSE(c.response_deadline().has_met_time());
  EXPECT_EQ(c.version(), 1);
  EXPECT_EQ(c.etag(), "v1");

  struct Step {
    EventEnvelope event;
    crm::v1::ComplaintStatus status;
  };
  const std::vector<Step> steps = {
      {Acknowledged("sam"), crm::v1::ACKNOWLEDGED},
      {Assigned("alice"), crm::v1::ASSIGNED},
      {InvestigationStarted("alice"), crm::v1::INVESTIGATING},
      {Resolved("alice", crm::v1::DELIVERY_DELAY), crm::v1::RESOLVED},
      {FollowUp(true, 5, "alice"), crm::v1::FOLLOWED_UP},
      {Closed(), crm::v1::CLOSED},
  };
  int64_t version = 1;
  for (const auto& step : steps) {
    ++version;
    ASSERT_TRUE(Feed(Stamp(kName, version, t + absl::Hours(version), step.event)).ok());
    c = Get(kName);
    EXPECT_EQ(c.status(), step.status) << "after version " << version;
    EXPECT_EQ(c.version(), version);
    EXPECT_EQ(c.etag(), absl::StrCat("v", version));
  }
  EXPECT_EQ(c.create_time().seconds(), absl::ToUnixSeconds(t));
  EXPECT_EQ(c.update_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(7)));
  EXPECT_EQ(c.response_deadline().met_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(2)));
  EXPECT_EQ(c.resolution_deadline().met_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(5)));
  EXPECT_FALSE(c.response_deadline().breached());
  EXPECT_EQ(c.assignee().staff_id(), "alice");
  EXPECT_EQ(c.assignee().team(), "teams/t1");
  EXPECT_EQ(c.resolution(), "replacement sent");
  EXPECT_EQ(c.root_cause(), crm::v1::DELIVERY_DELAY);
  EXPECT_EQ(c.resolve_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(5)));
  EXPECT_TRUE(c.follow_up().satisfied());
  EXPECT_EQ(c.follow_up().csat(), 5);
  EXPECT_EQ(c.follow_up().visit_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(6)));
  EXPECT_EQ(c.close_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(7)));

  // Indexes follow the record.
  EXPECT_EQ(Names({.status = crm::v1::CLOSED}), std::vector<std::string>{kName});
  EXPECT_TRUE(Names({.status = crm::v1::FILED}).empty());
  EXPECT_EQ(Names({.assignee = "alice"}), std::vector<std::string>{kName});
  EXPECT_EQ(Names({.category = crm::v1::LOGISTICS}), std::vector<std::string>{kName});
  EXPECT_EQ(Names({.severity = crm::v1::SEVERE}), std::vector<std::string>{kName});
  EXPECT_EQ(Names({.customer_id = "acme"}), std::vector<std::string>{kName});
  // Closed: never overdue, no deadline or breach entries left.
  clock_.Advance(absl::Hours(24 * 30));
  EXPECT_TRUE(Names({.overdue_only = true}).empty());
  EXPECT_TRUE(Dump(*store_, readmodel::complaint::kDeadlinePrefix).empty());
  EXPECT_TRUE(Dump(*store_, readmodel::complaint::kBreachedPrefix).empty());
  // Exactly one status index entry.
  EXPECT_EQ(Dump(*store_,
                 readmodel::complaint::IndexPrefix(readmodel::complaint::Index::kStatus, "CLOSED"))
                .size(),
            1u);
  EXPECT_EQ(Dump(*store_, "cp/x/status").size(), 1u);

  // The history: every envelope, in version order, as recorded.
  auto history = views_->History(kName, 0, 100);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->events.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(history->events[i].aggregate_version(), i + 1);
  EXPECT_TRUE(history->events[0].has_complaint_filed());
  EXPECT_TRUE(history->events[6].has_complaint_closed());
  EXPECT_FALSE(history->more);
  auto first = *views_->History(kName, 0, 3);
  EXPECT_EQ(first.events.size(), 3u);
  EXPECT_TRUE(first.more);
  auto rest = *views_->History(kName, 3, 10);
  ASSERT_EQ(rest.events.size(), 4u);
  EXPECT_EQ(rest.events[0].aggregate_version(), 4);
  EXPECT_FALSE(rest.more);
}

TEST_F(FoldTest, ReassignWhileInvestigatingKeepsStatusAndMovesAssigneeIndex) {
  const absl::Time t = T0();
  ASSERT_TRUE(Feed(Stamp(kName, 1, t,
                         Filed(crm::v1::BILLING, crm::v1::GENERAL, t + absl::Hours(24),
                               t + absl::Hours(72))))
                  .ok());
  ASSERT_TRUE(Feed(Stamp(kName, 2, t, Acknowledged("sam"))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 3, t, Assigned("alice"))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 4, t, InvestigationStarted("alice"))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 5, t, Assigned("bob", "alice"))).ok());
  Complaint c = Get(kName);
  EXPECT_EQ(c.status(), crm::v1::INVESTIGATING);
  EXPECT_EQ(c.assignee().staff_id(), "bob");
  EXPECT_TRUE(Names({.assignee = "alice"}).empty());
  EXPECT_EQ(Names({.assignee = "bob"}), std::vector<std::string>{kName});
  EXPECT_EQ(Names({.status = crm::v1::INVESTIGATING}), std::vector<std::string>{kName});
  EXPECT_TRUE(Names({.status = crm::v1::ASSIGNED}).empty());
}

TEST_F(FoldTest, AssignmentBeforeAcknowledgeMakesItAssigned) {
  const absl::Time t = T0();
  ASSERT_TRUE(Feed(Stamp(kName, 1, t,
                         Filed(crm::v1::BILLING, crm::v1::GENERAL, t + absl::Hours(24),
                               t + absl::Hours(72))))
                  .ok());
  ASSERT_TRUE(Feed(Stamp(kName, 2, t, Assigned("alice"))).ok());
  Complaint c = Get(kName);
  EXPECT_EQ(c.status(), crm::v1::ASSIGNED);
  EXPECT_FALSE(c.response_deadline().has_met_time()) << "only an acknowledgement responds";
}

TEST_F(FoldTest, ReopenSetsNewResolutionDeadlineAndGoesThroughAssignmentAgain) {
  const absl::Time t = T0();
  ASSERT_TRUE(Feed(Stamp(kName, 1, t,
                         Filed(crm::v1::PRODUCT_QUALITY, crm::v1::MINOR, t + absl::Hours(48),
                               t + absl::Hours(24 * 7))))
                  .ok());
  ASSERT_TRUE(Feed(Stamp(kName, 2, t + absl::Hours(1), Acknowledged("sam"))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 3, t + absl::Hours(2), Assigned("alice"))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 4, t + absl::Hours(3), InvestigationStarted("alice"))).ok());
  ASSERT_TRUE(
      Feed(Stamp(kName, 5, t + absl::Hours(4), Resolved("alice", crm::v1::PRODUCT_DEFECT))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 6, t + absl::Hours(5), FollowUp(false, 2, "alice"))).ok());
  const absl::Time new_due = t + absl::Hours(5 + 24 * 7);
  ASSERT_TRUE(Feed(Stamp(kName, 7, t + absl::Hours(5), Reopened(new_due))).ok());
  Complaint c = Get(kName);
  EXPECT_EQ(c.status(), crm::v1::REOPENED);
  EXPECT_EQ(c.reopen_count(), 1);
  EXPECT_EQ(c.resolution_deadline().kind(), crm::v1::RESOLUTION);
  EXPECT_EQ(c.resolution_deadline().due_time().seconds(), absl::ToUnixSeconds(new_due));
  EXPECT_FALSE(c.resolution_deadline().has_met_time());
  EXPECT_FALSE(c.resolution_deadline().breached());
  EXPECT_TRUE(c.response_deadline().has_met_time()) << "the response deadline stays met";
  // Issue 8: the view cleared these while the command answered them kept ("keep the last values
  // until replaced"); one reading of the event now, the domain's.
  EXPECT_FALSE(c.resolution().empty()) << "the last resolution stays until replaced";
  EXPECT_EQ(c.root_cause(), crm::v1::PRODUCT_DEFECT);
  EXPECT_EQ(c.resolve_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(4)));
  EXPECT_FALSE(c.follow_up().satisfied()) << "the last visit stays";
  EXPECT_EQ(Names({.status = crm::v1::REOPENED}), std::vector<std::string>{kName});

  // The new deadline is open again: overdue once it passes.
  clock_.Set(new_due);
  EXPECT_TRUE(Names({.overdue_only = true}).empty()) << "due exactly now has not passed";
  clock_.Set(new_due + absl::Seconds(1));
  EXPECT_EQ(Names({.overdue_only = true}), std::vector<std::string>{kName});

  ASSERT_TRUE(Feed(Stamp(kName, 8, t + absl::Hours(6), Assigned("bob", "alice"))).ok());
  EXPECT_EQ(Get(kName).status(), crm::v1::ASSIGNED);
  ASSERT_TRUE(Feed(Stamp(kName, 9, t + absl::Hours(7), InvestigationStarted("bob"))).ok());
  ASSERT_TRUE(
      Feed(Stamp(kName, 10, t + absl::Hours(8), Resolved("bob", crm::v1::PRODUCT_DEFECT))).ok());
  c = Get(kName);
  EXPECT_EQ(c.status(), crm::v1::RESOLVED);
  EXPECT_EQ(c.resolution_deadline().met_time().seconds(), absl::ToUnixSeconds(t + absl::Hours(8)));
  EXPECT_TRUE(Names({.overdue_only = true}).empty());
}

// Issue 8: an automatic escalation with nobody above the holder cleared escalated_to in the view;
// the command side keeps it ("stays as it was").
TEST_F(FoldTest, EscalationWithNobodyAboveKeepsEscalatedTo) {
  const absl::Time t = T0();
  ASSERT_TRUE(Feed(Stamp(kName, 1, t,
                         Filed(crm::v1::PRODUCT_QUALITY, crm::v1::MINOR, t + absl::Hours(48),
                               t + absl::Hours(24 * 7))))
                  .ok());
  ASSERT_TRUE(Feed(Stamp(kName, 2, t + absl::Hours(1), Escalated(1, "", "boss"))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 3, t + absl::Hours(2), Escalated(2, "boss", ""))).ok());
  const Complaint c = Get(kName);
  EXPECT_EQ(c.escalation_level(), 2);
  EXPECT_EQ(c.escalated_to().staff_id(), "boss");
}

TEST_F(FoldTest, BreachMarksDeadlineAndKeepsComplaintOverdueUntilResolved) {
  const absl::Time t = T0();
  const absl::Time response_due = t + absl::Hours(4);
  ASSERT_TRUE(Feed(Stamp(kName, 1, t,
                         Filed(crm::v1::SERVICE_ATTITUDE, crm::v1::SEVERE, response_due,
                               t + absl::Hours(24))))
                  .ok());
  clock_.Set(t + absl::Hours(1));
  EXPECT_TRUE(Names({.overdue_only = true}).empty());
  clock_.Set(t + absl::Hours(5));
  EXPECT_EQ(Names({.overdue_only = true}), std::vector<std::string>{kName})
      << "an open deadline that passed is overdue before any breach is recorded";

  ASSERT_TRUE(Feed(Stamp(kName, 2, response_due,
                         SlaBreached(crm::v1::RESPONSE, response_due, crm::v1::SEVERE)))
                  .ok());
  Complaint c = Get(kName);
  EXPECT_EQ(c.status(), crm::v1::FILED) << "a breach does not change the status";
  EXPECT_TRUE(c.response_deadline().breached());
  EXPECT_FALSE(c.resolution_deadline().breached());
  EXPECT_EQ(Dump(*store_, readmodel::complaint::kBreachedPrefix).size(), 1u);

  ASSERT_TRUE(Feed(Stamp(kName, 3, response_due, Escalated(1, "", "boss"))).ok());
  c = Get(kName);
  EXPECT_EQ(c.status(), crm::v1::FILED) << "an escalation does not change the status";
  EXPECT_EQ(c.escalation_level(), 1);
  EXPECT_EQ(c.escalated_to().staff_id(), "boss");

  // Acknowledged late: the response deadline is met but stays breached, so still overdue.
  ASSERT_TRUE(Feed(Stamp(kName, 4, t + absl::Hours(5), Acknowledged("sam"))).ok());
  c = Get(kName);
  EXPECT_TRUE(c.response_deadline().has_met_time());
  EXPECT_TRUE(c.response_deadline().breached());
  clock_.Set(t + absl::Hours(6));  // the resolution deadline has not passed
  EXPECT_EQ(Names({.overdue_only = true}), std::vector<std::string>{kName});

  ASSERT_TRUE(Feed(Stamp(kName, 5, t + absl::Hours(6), Assigned("alice"))).ok());
  ASSERT_TRUE(Feed(Stamp(kName, 6, t + absl::Hours(6), InvestigationStarted("alice"))).ok());
  ASSERT_TRUE(
      Feed(Stamp(kName, 7, t + absl::Hours(7), Resolved("alice", crm::v1::STAFF_BEHAVIOUR))).ok());
  clock_.Set(t + absl::Hours(100));
  EXPECT_TRUE(Names({.overdue_only = true}).empty());
  EXPECT_TRUE(Dump(*store_, readmodel::complaint::kBreachedPrefix).empty());
  EXPECT_TRUE(Dump(*store_, readmodel::complaint::kDeadlinePrefix).empty());
  EXPECT_TRUE(Get(kName).response_deadline().breached()) << "the fact stays on the record";
}

TEST_F(FoldTest, BreachOfAReplacedDeadlineLeavesTheNewOneAlone) {
  const absl::Time t = T0();
  const absl::Time old_due = t + absl::Hours(24);
  ASSERT_TRUE(Feed(Stamp(kName, 1, t,
                         Filed(crm::v1::LOGISTICS, crm::v1::SEVERE, t + absl::Hours(4), old_due)))
                  .ok());
  ASSERT_TRUE(Feed(Stamp(kName, 2, t, Reopened(t + absl::Hours(48)))).ok());
  ASSERT_TRUE(
      Feed(Stamp(kName, 3, old_due, SlaBreached(crm::v1::RESOLUTION, old_due, crm::v1::SEVERE)))
          .ok());
  EXPECT_FALSE(Get(kName).resolution_deadline().breached());
}

TEST_F(FoldTest, RedeliveredAndReplayedEventsChangeNothing) {
  const absl::Time t = T0();
  std::vector<EventEnvelope> events = {
      Stamp(kName, 1, t,
            Filed(crm::v1::LOGISTICS, crm::v1::GENERAL, t + absl::Hours(24), t + absl::Hours(72))),
      Stamp(kName, 2, t + absl::Hours(1), Acknowledged("sam")),
      Stamp(kName, 3, t + absl::Hours(2), Assigned("alice")),
  };
  for (const auto& e : events) ASSERT_TRUE(Feed(e).ok());
  const auto before = Dump(*store_);
  for (const auto& e : events) {
    ASSERT_TRUE(Feed(e).ok());
    EXPECT_EQ(last_batch_count_, 0u) << "version " << e.aggregate_version() << " re-applied";
  }
  // A replay with other content but an old version is also skipped.
  ASSERT_TRUE(Feed(Stamp(kName, 2, t + absl::Hours(9), Assigned("mallory"))).ok());
  EXPECT_EQ(Dump(*store_), before);
}

TEST_F(FoldTest, GapsBadNamesAndUndecodableRecordsAreDataLoss) {
  const absl::Time t = T0();
  EXPECT_EQ(FeedRaw("\xff\xff not a proto").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Feed(Stamp(kName, 1, t, Acknowledged("sam"))).code(), absl::StatusCode::kDataLoss)
      << "the first event must be ComplaintFiled";
  ASSERT_TRUE(
      Feed(Stamp(kName, 1, t, Filed(crm::v1::BILLING, crm::v1::MINOR, t, t + absl::Hours(1))))
          .ok());
  EXPECT_EQ(Feed(Stamp(kName, 3, t, Acknowledged("sam"))).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Feed(Stamp(kName, 2, t, Filed(crm::v1::BILLING, crm::v1::MINOR, t, t))).code(),
            absl::StatusCode::kDataLoss);

  EventEnvelope wrong_customer = Stamp(kName, 2, t, Acknowledged("sam"));
  wrong_customer.set_customer_id("other");
  EXPECT_EQ(Feed(wrong_customer).code(), absl::StatusCode::kDataLoss);
  EventEnvelope no_name = Stamp(kName, 2, t, Acknowledged("sam"));
  no_name.set_aggregate("customers/acme");
  EXPECT_EQ(Feed(no_name).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Get(kName).version(), 1);
}

TEST_F(FoldTest, IgnoresOtherEvents) {
  EventEnvelope registered;
  registered.set_customer_id("acme");
  registered.set_aggregate("customers/acme");
  registered.set_aggregate_version(1);
  registered.mutable_customer_registered()->mutable_profile()->set_display_name("Acme");
  ASSERT_TRUE(Feed(registered).ok());
  EXPECT_EQ(last_batch_count_, 0u);
  EventEnvelope staff;
  staff.set_aggregate("staff/alice");
  staff.set_aggregate_version(1);
  staff.mutable_staff_added();
  ASSERT_TRUE(Feed(staff).ok());
  EXPECT_EQ(last_batch_count_, 0u);
  EXPECT_TRUE(Dump(*store_).empty());
}

// Many complaints of several customers interleaved with customer events, through the runner.
class RebuildTest : public ComplaintViewFoldTest {};

TEST_F(RebuildTest, FoldingTwiceFromZeroGivesIdenticalStores) {
  eventlog::InMemoryEventLog log(3);
  const absl::Time t = T0();
  auto append = [&](const EventEnvelope& e) {
    ASSERT_TRUE(
        log.Append(e.customer_id(), {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5))
            .ok());
  };
  for (int cust = 0; cust < 4; ++cust) {
    const std::string customer = absl::StrCat("cust-", cust);
    EventEnvelope registered;
    registered.set_customer_id(customer);
    registered.set_aggregate("customers/" + customer);
    registered.set_aggregate_version(1);
    registered.mutable_customer_registered()->mutable_profile()->set_display_name(customer);
    append(registered);
    for (int n = 0; n < 5; ++n) {
      const std::string name = ComplaintName(customer, absl::StrCat("k", n));
      const auto severity = static_cast<crm::v1::ComplaintSeverity>(1 + (cust + n) % 3);
      const auto category = static_cast<crm::v1::ComplaintCategory>(1 + n % 5);
      std::vector<EventEnvelope> flow = {
          Filed(category, severity, t + absl::Hours(4), t + absl::Hours(24)),
          Acknowledged("sam"),
          Assigned(n % 2 ? "alice" : "bob"),
          InvestigationStarted(n % 2 ? "alice" : "bob"),
          SlaBreached(crm::v1::RESOLUTION, t + absl::Hours(24), severity),
          Resolved("alice", crm::v1::PROCESS_GAP),
          FollowUp(false, 2, "alice"),
          Reopened(t + absl::Hours(96)),
          Closed(),
      };
      const size_t steps = 1 + (cust * 5 + n) % flow.size();
      for (size_t v = 0; v < steps; ++v) {
        append(Stamp(name, static_cast<int64_t>(v + 1), t + absl::Minutes(v), flow[v]));
      }
      // Redelivery of the first event, as an at-least-once transport may do.
      append(Stamp(name, 1, t, flow[0]));
    }
  }
  ComplaintViewFold fold;
  auto build = [&](const std::string& dir) {
    auto store = *kv::KvStore::Open((root_ / dir).string());
    fold::FoldRunner runner(&log, store.get(), &fold, {.name = dir});
    EXPECT_TRUE(runner.CatchUp().ok());
    EXPECT_EQ(runner.dead_letters(), 0);
    return store;
  };
  auto a = build("a");
  auto b = build("b");
  const auto dump_a = Dump(*a);
  EXPECT_EQ(dump_a, Dump(*b));
  EXPECT_GT(Dump(*a, "cp/c/").size(), 0u);
  EXPECT_EQ(Dump(*a, "cp/c/").size(), 20u);
  for (const auto& [key, value] : dump_a) {
    EXPECT_TRUE(absl::StartsWith(key, "cp/") ||
                absl::StartsWith(key, fold::FoldRunner::kReservedPrefix))
        << key;
  }
}

}  // namespace
}  // namespace crm::projections::complaint
