// Unit tests of AnalyticsFold and AnalyticsViews, one figure at a time, on small hand-made
// histories folded by a real FoldRunner into a real KvStore. The figures are defined in
// docs/analytics.md.
#include "projections/analytics/analytics_fold.h"

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
#include "domain/complaint/event_codec.h"
#include "domain/interaction/event_codec.h"
#include "gtest/gtest.h"
#include "readmodel/analytics/analytics_views.h"
#include "readmodel/analytics/figures.h"

namespace crm::projections::analytics {
namespace {

using crm::events::v1::EventEnvelope;
using domain::complaint::ToEvent;
using domain::interaction::ToEvent;
using readmodel::analytics::ToTimestamp;

const absl::Time kT0 = absl::FromUnixSeconds(1'717'200'000);  // 2024-06-01T00:00:00Z

crm::v1::StaffRef Ref(const std::string& staff, const std::string& team = "",
                      const std::string& department = "") {
  crm::v1::StaffRef ref;
  ref.set_staff_id(staff);
  ref.set_team(team);
  ref.set_department(department);
  return ref;
}

crm::v1::StaffScope StaffScope(const std::string& staff) {
  crm::v1::StaffScope scope;
  scope.set_staff_id(staff);
  return scope;
}

crm::v1::StaffScope TeamScope(const std::string& team) {
  crm::v1::StaffScope scope;
  scope.set_team(team);
  return scope;
}

crm::v1::StaffScope DepartmentScope(const std::string& department) {
  crm::v1::StaffScope scope;
  scope.set_department(department);
  return scope;
}

class AnalyticsFoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("analytics-" + base::NewUuid());
    store_ = *kv::KvStore::Open(root_.string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  // Appends `e` as the next event of customer `id`'s own stream, occurring at `at`.
  void AddCustomerEvent(const std::string& id, absl::Time at, EventEnvelope e) {
    Append("customers/" + id, at, std::move(e), id);
  }

  // Appends `e` as the next event of complaint `id` (customer "c1"), occurring at `at`.
  EventEnvelope Complaint(const std::string& id, absl::Time at, EventEnvelope e) {
    return Append(absl::StrCat("customers/c1/complaints/", id), at, std::move(e));
  }
  EventEnvelope Append(const std::string& aggregate, absl::Time at, EventEnvelope e,
                       const std::string& customer = "c1") {
    e.set_event_id(base::NewUuid());
    e.set_customer_id(customer);
    e.set_aggregate(aggregate);
    e.set_aggregate_version(++versions_[aggregate]);
    *e.mutable_occurred_at() = ToTimestamp(at);
    *e.mutable_recorded_at() = ToTimestamp(at);
    e.set_schema_version(1);
    AppendRaw(e.SerializeAsString());
    return e;
  }
  void AppendRaw(const std::string& value) {
    ASSERT_TRUE(log_.Append("c1", {{value, {}}}, absl::Now() + absl::Seconds(5)).ok());
  }
  void FoldAll() {
    fold::FoldRunner runner(&log_, store_.get(), &fold_, {.name = "analytics"});
    ASSERT_TRUE(runner.CatchUp().ok());
    dead_letters_ += runner.dead_letters();
  }

  static EventEnvelope Filed(crm::v1::ComplaintSeverity severity, absl::Time response_due,
                             absl::Time resolution_due,
                             crm::v1::ComplaintCategory category = crm::v1::BILLING,
                             crm::v1::Channel channel = crm::v1::PHONE) {
    EventEnvelope e;
    auto* f = e.mutable_complaint_filed();
    f->set_channel(ToEvent(channel));
    f->set_category(ToEvent(category));
    f->set_severity(ToEvent(severity));
    f->set_description("x");
    *f->mutable_response_due_time() = ToTimestamp(response_due);
    *f->mutable_resolution_due_time() = ToTimestamp(resolution_due);
    return e;
  }
  static EventEnvelope Acknowledged() {
    EventEnvelope e;
    *e.mutable_complaint_acknowledged()->mutable_responder() = ToEvent(Ref("r"));
    return e;
  }
  static EventEnvelope Assigned(const crm::v1::StaffRef& to) {
    EventEnvelope e;
    *e.mutable_complaint_assigned()->mutable_assignee() = ToEvent(to);
    return e;
  }
  static EventEnvelope Investigating() {
    EventEnvelope e;
    e.mutable_complaint_investigation_started();
    return e;
  }
  static EventEnvelope Resolved(const crm::v1::StaffRef& by,
                                crm::v1::RootCause cause = crm::v1::PRODUCT_DEFECT) {
    EventEnvelope e;
    e.mutable_complaint_resolved()->set_root_cause(ToEvent(cause));
    *e.mutable_complaint_resolved()->mutable_resolver() = ToEvent(by);
    return e;
  }
  static EventEnvelope Visit(const crm::v1::StaffRef& resolver, int csat, bool satisfied) {
    EventEnvelope e;
    e.mutable_complaint_follow_up_visit_recorded()->mutable_visit()->set_csat(csat);
    e.mutable_complaint_follow_up_visit_recorded()->mutable_visit()->set_satisfied(satisfied);
    *e.mutable_complaint_follow_up_visit_recorded()->mutable_resolver() = ToEvent(resolver);
    return e;
  }
  static EventEnvelope Reopened(absl::Time resolution_due) {
    EventEnvelope e;
    *e.mutable_complaint_reopened()->mutable_resolution_due_time() = ToTimestamp(resolution_due);
    return e;
  }
  static EventEnvelope Closed() {
    EventEnvelope e;
    e.mutable_complaint_closed();
    return e;
  }
  static EventEnvelope Breached(crm::v1::SlaKind kind, absl::Time due,
                                const crm::v1::StaffRef& assignee = {}) {
    EventEnvelope e;
    e.mutable_complaint_sla_breached()->set_kind(ToEvent(kind));
    *e.mutable_complaint_sla_breached()->mutable_due_time() = ToTimestamp(due);
    *e.mutable_complaint_sla_breached()->mutable_assignee() = ToEvent(assignee);
    return e;
  }

  readmodel::analytics::AnalyticsViews views() const {
    return readmodel::analytics::AnalyticsViews(store_.get());
  }

  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  eventlog::InMemoryEventLog log_{2};
  AnalyticsFold fold_;
  std::map<std::string, int64_t> versions_;
  int64_t dead_letters_ = 0;
};

int64_t StatusCount(const crm::v1::ComplaintStats& s, crm::v1::ComplaintStatus status) {
  for (const auto& c : s.statuses()) {
    if (c.status() == status) return c.count();
  }
  return -1;
}

TEST_F(AnalyticsFoldTest, CountsComplaintsByCategorySeverityChannelAndFilingBucket) {
  const absl::Duration h = absl::Hours(1);
  Complaint("a", kT0 + 2 * h,
            Filed(crm::v1::SEVERE, kT0 + 6 * h, kT0 + 26 * h, crm::v1::LOGISTICS, crm::v1::EMAIL));
  Complaint("b", kT0 + 30 * h, Filed(crm::v1::MINOR, kT0 + 80 * h, kT0 + 200 * h));
  Complaint("c", kT0 + 24 * 40 * h, Filed(crm::v1::MINOR, kT0 + 24 * 42 * h, kT0 + 24 * 50 * h));
  FoldAll();

  auto stats = views().GetComplaintStats({}, absl::UTCTimeZone());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->total(), 3);
  ASSERT_EQ(stats->categories_size(), 5);  // Every category, zeros included.
  EXPECT_EQ(stats->categories(crm::v1::LOGISTICS - 1).count(), 1);
  EXPECT_EQ(stats->categories(crm::v1::BILLING - 1).count(), 2);
  EXPECT_EQ(stats->categories(crm::v1::PRODUCT_QUALITY - 1).count(), 0);
  EXPECT_EQ(stats->severities(crm::v1::MINOR - 1).count(), 2);
  EXPECT_EQ(stats->severities(crm::v1::SEVERE - 1).count(), 1);
  EXPECT_EQ(stats->channels(crm::v1::EMAIL - 1).count(), 1);
  EXPECT_EQ(stats->channels(crm::v1::PHONE - 1).count(), 2);
  EXPECT_EQ(StatusCount(*stats, crm::v1::FILED), 3);
  ASSERT_EQ(stats->days_size(), 3);
  EXPECT_EQ(stats->days(0).bucket(), "2024-06-01");
  EXPECT_EQ(stats->days(0).start_time().seconds(), absl::ToUnixSeconds(kT0));
  EXPECT_EQ(stats->days(1).bucket(), "2024-06-02");
  EXPECT_EQ(stats->days(2).bucket(), "2024-07-11");
  ASSERT_EQ(stats->months_size(), 2);
  EXPECT_EQ(stats->months(0).bucket(), "2024-06");
  EXPECT_EQ(stats->months(0).count(), 2);
  EXPECT_EQ(stats->months(1).bucket(), "2024-07");
  EXPECT_EQ(stats->window_total(), 3);

  // A window selects buckets by their start: June 2 00:00 up to (not including) July 11.
  auto window = views().GetComplaintStats({}, absl::UTCTimeZone(), kT0 + 24 * h, kT0 + 24 * 40 * h);
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->days_size(), 1);
  EXPECT_EQ(window->days(0).bucket(), "2024-06-02");
  EXPECT_EQ(window->window_total(), 1);
  EXPECT_EQ(window->months_size(), 1);  // July starts in the window; June does not.
  EXPECT_EQ(window->months(0).bucket(), "2024-07");
  EXPECT_EQ(window->total(), 3);  // The other breakdowns are not windowed.
}

TEST_F(AnalyticsFoldTest, StatusCountsFollowEachComplaintsLastEvent) {
  const absl::Duration h = absl::Hours(1);
  const auto filed = Filed(crm::v1::GENERAL, kT0 + 24 * h, kT0 + 72 * h);
  Complaint("a", kT0, filed);
  Complaint("a", kT0 + h, Acknowledged());
  Complaint("a", kT0 + 2 * h, Assigned(Ref("s1")));
  Complaint("a", kT0 + 3 * h, Investigating());
  // A reassignment during the investigation keeps the complaint INVESTIGATING.
  Complaint("a", kT0 + 4 * h, Assigned(Ref("s2")));
  Complaint("b", kT0, filed);
  Complaint("b", kT0 + h, Assigned(Ref("s1")));  // Straight from FILED.
  Complaint("c", kT0, filed);
  Complaint("c", kT0 + h, Assigned(Ref("s1")));
  Complaint("c", kT0 + 2 * h, Investigating());
  Complaint("c", kT0 + 3 * h, Resolved(Ref("s1")));
  Complaint("c", kT0 + 4 * h, Visit(Ref("s1"), 2, false));
  Complaint("c", kT0 + 5 * h, Reopened(kT0 + 80 * h));
  Complaint("d", kT0, filed);
  Complaint("d", kT0 + h, Assigned(Ref("s1")));
  Complaint("d", kT0 + 2 * h, Investigating());
  Complaint("d", kT0 + 3 * h, Resolved(Ref("s1")));
  Complaint("d", kT0 + 4 * h, Closed());
  FoldAll();

  auto stats = views().GetComplaintStats({}, absl::UTCTimeZone());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StatusCount(*stats, crm::v1::FILED), 0);
  EXPECT_EQ(StatusCount(*stats, crm::v1::ACKNOWLEDGED), 0);
  EXPECT_EQ(StatusCount(*stats, crm::v1::INVESTIGATING), 1);
  EXPECT_EQ(StatusCount(*stats, crm::v1::ASSIGNED), 1);
  EXPECT_EQ(StatusCount(*stats, crm::v1::REOPENED), 1);
  EXPECT_EQ(StatusCount(*stats, crm::v1::CLOSED), 1);
  EXPECT_EQ(StatusCount(*stats, crm::v1::RESOLVED), 0);

  Complaint("c", kT0 + 6 * h, Assigned(Ref("s3")));  // From REOPENED.
  FoldAll();
  stats = views().GetComplaintStats({}, absl::UTCTimeZone());
  EXPECT_EQ(StatusCount(*stats, crm::v1::REOPENED), 0);
  EXPECT_EQ(StatusCount(*stats, crm::v1::ASSIGNED), 2);
}

TEST_F(AnalyticsFoldTest, SlaOutcomesPerDeadline) {
  const absl::Duration h = absl::Hours(1);
  // a: acknowledged at the due time exactly (met); resolved on time (met).
  Complaint("a", kT0, Filed(crm::v1::SEVERE, kT0 + 4 * h, kT0 + 24 * h));
  Complaint("a", kT0 + 4 * h, Acknowledged());
  Complaint("a", kT0 + 10 * h, Resolved(Ref("s1")));
  // b: the response deadline breached, then acknowledged (breached); resolution open (pending).
  Complaint("b", kT0, Filed(crm::v1::SEVERE, kT0 + 4 * h, kT0 + 24 * h));
  Complaint("b", kT0 + 4 * h, Breached(crm::v1::RESPONSE, kT0 + 4 * h));
  Complaint("b", kT0 + 5 * h, Acknowledged());
  // c: acknowledged late with no breach recorded (late); resolved on time, reopened, and the
  // new resolution deadline breached.
  Complaint("c", kT0, Filed(crm::v1::MINOR, kT0 + 48 * h, kT0 + 168 * h));
  Complaint("c", kT0 + 50 * h, Acknowledged());
  Complaint("c", kT0 + 60 * h, Resolved(Ref("s1")));
  Complaint("c", kT0 + 70 * h, Reopened(kT0 + 100 * h));
  Complaint("c", kT0 + 100 * h, Breached(crm::v1::RESOLUTION, kT0 + 100 * h, Ref("s2")));
  Complaint("c", kT0 + 110 * h, Resolved(Ref("s2")));
  FoldAll();

  auto sla = views().GetSlaCompliance();
  ASSERT_TRUE(sla.ok()) << sla.status();
  // Response: a met, b breached, c late. Resolution: a met, b pending, c met then breached.
  EXPECT_EQ(sla->overall().met(), 3);
  EXPECT_EQ(sla->overall().breached(), 2);
  EXPECT_EQ(sla->overall().late(), 1);
  EXPECT_EQ(sla->overall().pending(), 1);
  EXPECT_DOUBLE_EQ(sla->overall().compliance_rate(), 3.0 / 6.0);
  ASSERT_EQ(sla->by_kind_size(), 2);
  EXPECT_EQ(sla->by_kind(0).kind(), crm::v1::RESPONSE);
  EXPECT_EQ(sla->by_kind(0).outcomes().met(), 1);
  EXPECT_EQ(sla->by_kind(0).outcomes().breached(), 1);
  EXPECT_EQ(sla->by_kind(0).outcomes().late(), 1);
  EXPECT_EQ(sla->by_kind(1).kind(), crm::v1::RESOLUTION);
  EXPECT_EQ(sla->by_kind(1).outcomes().met(), 2);
  EXPECT_EQ(sla->by_kind(1).outcomes().breached(), 1);
  EXPECT_EQ(sla->by_kind(1).outcomes().pending(), 1);
  ASSERT_EQ(sla->by_severity_size(), 3);
  EXPECT_EQ(sla->by_severity(0).severity(), crm::v1::MINOR);
  EXPECT_EQ(sla->by_severity(0).outcomes().met(), 1);
  EXPECT_EQ(sla->by_severity(0).outcomes().late(), 1);
  EXPECT_EQ(sla->by_severity(0).outcomes().breached(), 1);
  EXPECT_EQ(sla->by_severity(1).outcomes().met() + sla->by_severity(1).outcomes().pending(), 0);
  EXPECT_EQ(sla->by_severity(2).severity(), crm::v1::SEVERE);
  EXPECT_DOUBLE_EQ(sla->by_severity(2).outcomes().compliance_rate(), 2.0 / 3.0);
}

TEST_F(AnalyticsFoldTest, NoDecidedDeadlineGivesARateOfZero) {
  Complaint("a", kT0, Filed(crm::v1::MINOR, kT0 + absl::Hours(48), kT0 + absl::Hours(168)));
  FoldAll();
  auto sla = views().GetSlaCompliance();
  ASSERT_TRUE(sla.ok());
  EXPECT_EQ(sla->overall().pending(), 2);
  EXPECT_EQ(sla->overall().compliance_rate(), 0.0);
}

TEST_F(AnalyticsFoldTest, MeanAndNearestRankP90OfResponseAndResolutionTimes) {
  // Ten GENERAL complaints acknowledged after 1..10 minutes, two SEVERE after 20 and 40 minutes.
  for (int i = 1; i <= 10; ++i) {
    const std::string id = absl::StrCat("g", i);
    Complaint(id, kT0, Filed(crm::v1::GENERAL, kT0 + absl::Hours(24), kT0 + absl::Hours(72)));
    Complaint(id, kT0 + absl::Minutes(i), Acknowledged());
    Complaint(id, kT0 + absl::Minutes(i + 1), Acknowledged());  // Only the first counts.
  }
  for (int i : {20, 40}) {
    const std::string id = absl::StrCat("s", i);
    Complaint(id, kT0, Filed(crm::v1::SEVERE, kT0 + absl::Hours(4), kT0 + absl::Hours(24)));
    Complaint(id, kT0 + absl::Minutes(i), Acknowledged());
    Complaint(id, kT0 + absl::Hours(i), Resolved(Ref("s1")));
    Complaint(id, kT0 + absl::Hours(i + 1), Reopened(kT0 + absl::Hours(100)));
    Complaint(id, kT0 + absl::Hours(i + 2), Resolved(Ref("s1")));  // Not the first resolution.
  }
  FoldAll();

  auto general = views().GetResponseTimes(crm::v1::GENERAL);
  ASSERT_TRUE(general.ok()) << general.status();
  EXPECT_EQ(general->first_response().count(), 10);
  EXPECT_EQ(general->first_response().total().seconds(), 55 * 60);
  EXPECT_EQ(general->first_response().mean().seconds(), 330);    // 5.5 minutes
  EXPECT_EQ(general->first_response().p90().seconds(), 9 * 60);  // ceil(0.9 * 10) = 9th
  EXPECT_EQ(general->resolution().count(), 0);
  EXPECT_EQ(general->resolution().p90().seconds(), 0);

  auto all = views().GetResponseTimes(crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->first_response().count(), 12);
  EXPECT_EQ(all->first_response().p90().seconds(), 20 * 60);  // ceil(10.8) = 11th of 12
  EXPECT_EQ(all->first_response().mean().seconds(), (55 + 60) * 60 / 12);
  EXPECT_EQ(all->first_response().mean().nanos(), 0);
  EXPECT_EQ(all->resolution().count(), 2);
  EXPECT_EQ(all->resolution().mean().seconds(), 30 * 3600);
  EXPECT_EQ(all->resolution().p90().seconds(), 40 * 3600);

  // A mean that is not a whole number of milliseconds keeps its nanoseconds.
  Complaint("odd", kT0, Filed(crm::v1::MINOR, kT0 + absl::Hours(48), kT0 + absl::Hours(168)));
  Complaint("odd", kT0 + absl::Milliseconds(1), Acknowledged());
  Complaint("odd2", kT0, Filed(crm::v1::MINOR, kT0 + absl::Hours(48), kT0 + absl::Hours(168)));
  Complaint("odd2", kT0 + absl::Milliseconds(1), Acknowledged());
  Complaint("odd3", kT0, Filed(crm::v1::MINOR, kT0 + absl::Hours(48), kT0 + absl::Hours(168)));
  Complaint("odd3", kT0, Acknowledged());
  FoldAll();
  auto minor = views().GetResponseTimes(crm::v1::MINOR);
  ASSERT_TRUE(minor.ok());
  EXPECT_EQ(minor->first_response().mean().seconds(), 0);
  EXPECT_EQ(minor->first_response().mean().nanos(), 666'666);  // 2 ms / 3
}

TEST_F(AnalyticsFoldTest, CsatIsCreditedToTheResolverRefStampedInTheVisit) {
  const absl::Duration h = absl::Hours(1);
  const auto filed = Filed(crm::v1::GENERAL, kT0 + 24 * h, kT0 + 72 * h);
  // s1 was in team t1 (department d1) for the first visit and in t2 (d1) for the second: each
  // visit counts where its event says, whatever the organisation looks like now.
  Complaint("a", kT0, filed);
  Complaint("a", kT0 + h, Visit(Ref("s1", "teams/t1", "departments/d1"), 5, true));
  Complaint("b", kT0, filed);
  Complaint("b", kT0 + h, Visit(Ref("s1", "teams/t2", "departments/d1"), 2, false));
  Complaint("c", kT0, filed);
  Complaint("c", kT0 + h, Visit(Ref("s2", "teams/t2", "departments/d1"), 4, true));
  Complaint("d", kT0, filed);
  Complaint("d", kT0 + h, Visit(Ref("s3"), 0, true));  // No score: only "satisfied" counts.
  FoldAll();

  auto s1 = views().GetSatisfaction(StaffScope("s1"));
  ASSERT_TRUE(s1.ok()) << s1.status();
  EXPECT_EQ(s1->count(), 2);
  EXPECT_DOUBLE_EQ(s1->average(), 3.5);
  ASSERT_EQ(s1->distribution_size(), 5);
  EXPECT_EQ(s1->distribution(1).score(), 2);
  EXPECT_EQ(s1->distribution(1).count(), 1);
  EXPECT_EQ(s1->distribution(4).count(), 1);
  EXPECT_EQ(s1->distribution(0).count(), 0);
  EXPECT_EQ(s1->satisfied_count(), 1);
  EXPECT_EQ(s1->scope().staff_id(), "s1");

  auto t1 = views().GetSatisfaction(TeamScope("teams/t1"));
  ASSERT_TRUE(t1.ok());
  EXPECT_EQ(t1->count(), 1);
  EXPECT_DOUBLE_EQ(t1->average(), 5.0);
  auto t2 = views().GetSatisfaction(TeamScope("teams/t2"));
  EXPECT_EQ(t2->count(), 2);
  EXPECT_DOUBLE_EQ(t2->average(), 3.0);
  auto d1 = views().GetSatisfaction(DepartmentScope("departments/d1"));
  EXPECT_EQ(d1->count(), 3);
  EXPECT_DOUBLE_EQ(d1->average(), 11.0 / 3.0);

  auto everyone = views().GetSatisfaction(crm::v1::StaffScope());
  ASSERT_TRUE(everyone.ok());
  EXPECT_EQ(everyone->count(), 3);
  EXPECT_EQ(everyone->satisfied_count(), 3);
  auto s3 = views().GetSatisfaction(StaffScope("s3"));
  EXPECT_EQ(s3->count(), 0);
  EXPECT_EQ(s3->average(), 0.0);
  EXPECT_EQ(s3->satisfied_count(), 1);

  auto nobody = views().GetSatisfaction(StaffScope("nobody"));
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->count(), 0);
}

TEST_F(AnalyticsFoldTest, InteractionsPerChannelAndDirection) {
  auto log = [&](const std::string& id, crm::v1::Channel channel, crm::v1::Direction direction,
                 const crm::v1::StaffRef& staff) {
    EventEnvelope e;
    e.mutable_interaction_logged()->mutable_interaction()->set_channel(ToEvent(channel));
    e.mutable_interaction_logged()->mutable_interaction()->set_direction(ToEvent(direction));
    *e.mutable_interaction_logged()->mutable_staff() = ToEvent(staff);
    Append(absl::StrCat("customers/c1/interactions/", id), kT0, e);
  };
  log("i1", crm::v1::PHONE, crm::v1::INBOUND, Ref("s1", "teams/t1"));
  log("i2", crm::v1::PHONE, crm::v1::OUTBOUND, Ref("s1", "teams/t1"));
  log("i3", crm::v1::SMS, crm::v1::OUTBOUND, Ref("s2", "teams/t1"));
  EventEnvelope done;  // A later event of the interaction: not a new interaction.
  done.mutable_follow_up_completed()->set_note("done");
  Append("customers/c1/interactions/i1", kT0, done);
  FoldAll();

  auto stats = views().GetInteractionStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->total(), 3);
  ASSERT_EQ(stats->channels_size(), 7);
  EXPECT_EQ(stats->channels(0).channel(), crm::v1::PHONE);
  EXPECT_EQ(stats->channels(0).count(), 2);
  ASSERT_EQ(stats->channels(0).directions_size(), 2);
  EXPECT_EQ(stats->channels(0).directions(0).count(), 1);
  EXPECT_EQ(stats->channels(0).directions(1).count(), 1);
  EXPECT_EQ(stats->channels(crm::v1::SMS - 1).count(), 1);
  EXPECT_EQ(stats->channels(crm::v1::EMAIL - 1).count(), 0);
  ASSERT_EQ(stats->directions_size(), 2);
  EXPECT_EQ(stats->directions(0).direction(), crm::v1::INBOUND);
  EXPECT_EQ(stats->directions(0).count(), 1);
  EXPECT_EQ(stats->directions(1).count(), 2);

  auto s1 = views().GetStaffKpis(StaffScope("s1"));
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ(s1->interactions_logged(), 2);
  EXPECT_EQ(views().GetStaffKpis(TeamScope("teams/t1"))->interactions_logged(), 3);
}

TEST_F(AnalyticsFoldTest, RootCausesRankedByCountThenEnumNumber) {
  const auto filed = Filed(crm::v1::GENERAL, kT0 + absl::Hours(24), kT0 + absl::Hours(72));
  int n = 0;
  for (auto cause :
       {crm::v1::THIRD_PARTY, crm::v1::PROCESS_GAP, crm::v1::THIRD_PARTY, crm::v1::BILLING_ERROR,
        crm::v1::PROCESS_GAP, crm::v1::DELIVERY_DELAY, crm::v1::THIRD_PARTY}) {
    const std::string id = absl::StrCat("k", ++n);
    Complaint(id, kT0, filed);
    Complaint(id, kT0 + absl::Hours(1), Resolved(Ref("s1"), cause));
  }
  FoldAll();
  auto ranking = views().GetRootCauses();
  ASSERT_TRUE(ranking.ok()) << ranking.status();
  EXPECT_EQ(ranking->total_resolutions(), 7);
  ASSERT_EQ(ranking->root_causes_size(), 4);
  EXPECT_EQ(ranking->root_causes(0).root_cause(), crm::v1::THIRD_PARTY);
  EXPECT_EQ(ranking->root_causes(0).count(), 3);
  EXPECT_DOUBLE_EQ(ranking->root_causes(0).share(), 3.0 / 7.0);
  EXPECT_EQ(ranking->root_causes(1).root_cause(), crm::v1::PROCESS_GAP);
  // A tie: the smaller enum number first.
  EXPECT_EQ(ranking->root_causes(2).root_cause(), crm::v1::DELIVERY_DELAY);
  EXPECT_EQ(ranking->root_causes(3).root_cause(), crm::v1::BILLING_ERROR);
}

TEST_F(AnalyticsFoldTest, StaffKpisCountTheEventsThatNameThem) {
  const absl::Duration h = absl::Hours(1);
  const auto s1 = Ref("s1", "teams/t1", "departments/d1");
  const auto s2 = Ref("s2", "teams/t2", "departments/d1");
  Complaint("a", kT0, Filed(crm::v1::SEVERE, kT0 + 4 * h, kT0 + 24 * h));
  Complaint("a", kT0 + 5 * h, Breached(crm::v1::RESPONSE, kT0 + 4 * h));  // Unassigned.
  Complaint("a", kT0 + 6 * h, Assigned(s1));
  Complaint("a", kT0 + 7 * h, Assigned(s2));
  Complaint("a", kT0 + 8 * h, Assigned(s1));
  Complaint("a", kT0 + 25 * h, Breached(crm::v1::RESOLUTION, kT0 + 24 * h, s1));
  Complaint("a", kT0 + 26 * h, Resolved(s1));
  Complaint("a", kT0 + 27 * h, Visit(s1, 4, true));
  FoldAll();

  auto k1 = views().GetStaffKpis(StaffScope("s1"));
  ASSERT_TRUE(k1.ok()) << k1.status();
  EXPECT_EQ(k1->complaints_assigned(), 2);
  EXPECT_EQ(k1->complaints_resolved(), 1);
  EXPECT_EQ(k1->sla_breaches(), 1);
  EXPECT_EQ(k1->satisfaction().count(), 1);
  EXPECT_DOUBLE_EQ(k1->satisfaction().average(), 4.0);
  EXPECT_EQ(k1->scope().staff_id(), "s1");
  auto k2 = views().GetStaffKpis(StaffScope("s2"));
  EXPECT_EQ(k2->complaints_assigned(), 1);
  EXPECT_EQ(k2->complaints_resolved(), 0);
  auto d1 = views().GetStaffKpis(DepartmentScope("departments/d1"));
  EXPECT_EQ(d1->complaints_assigned(), 3);
  EXPECT_EQ(d1->sla_breaches(), 1);
  auto everyone = views().GetStaffKpis(crm::v1::StaffScope());
  EXPECT_EQ(everyone->complaints_assigned(), 3);
  EXPECT_EQ(everyone->sla_breaches(), 2);  // The unassigned breach counts only here.
}

TEST_F(AnalyticsFoldTest, RedeliveredAndForeignEventsChangeNothing) {
  const absl::Duration h = absl::Hours(1);
  const EventEnvelope filed =
      Complaint("a", kT0, Filed(crm::v1::SEVERE, kT0 + 4 * h, kT0 + 24 * h));
  const EventEnvelope assigned = Complaint("a", kT0 + h, Assigned(Ref("s1")));
  FoldAll();
  std::map<std::string, std::string> before;
  ASSERT_TRUE(store_
                  ->ScanPrefix("an/", "", 0,
                               [&](absl::string_view k, absl::string_view v) {
                                 before.emplace(k, v);
                                 return true;
                               })
                  .ok());
  AppendRaw(filed.SerializeAsString());
  AppendRaw(assigned.SerializeAsString());
  EventEnvelope tagged;  // An event of a customer never registered: ignored.
  tagged.mutable_customer_tagged()->set_tag("vip");
  Append("customers/c1", kT0, tagged);
  FoldAll();
  std::map<std::string, std::string> after;
  ASSERT_TRUE(store_
                  ->ScanPrefix("", "", 0,
                               [&](absl::string_view k, absl::string_view v) {
                                 if (k.substr(0, 3) == "an/") after.emplace(k, v);
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(before, after);
  EXPECT_EQ(views().GetStaffKpis(StaffScope("s1"))->complaints_assigned(), 1);
  EXPECT_EQ(dead_letters_, 0);

  // An event of a complaint never filed (impossible in a valid log) is ignored, not credited.
  Complaint("ghost", kT0, Assigned(Ref("s9")));
  FoldAll();
  EXPECT_EQ(views().GetStaffKpis(StaffScope("s9"))->complaints_assigned(), 0);
}

TEST_F(AnalyticsFoldTest, SalesGoToTheOwnerAndPlaceRecordedAtAssignment) {
  const absl::Duration h = absl::Hours(1);
  const std::string c1 = "customers/c1";
  EventEnvelope registered;
  registered.mutable_customer_registered()->mutable_profile()->set_display_name("C1");
  Append(c1, kT0, registered);
  auto buy = [&](absl::Time at, int64_t amount, const std::string& product) {
    EventEnvelope e;
    auto* p = e.mutable_purchase_recorded()->mutable_purchase();
    p->mutable_amount()->set_currency_code("CNY");
    p->mutable_amount()->set_amount_minor(amount);
    p->set_product(product);
    *p->mutable_purchased_at() = ToTimestamp(at);
    Append(c1, at, e);
  };
  buy(kT0 + h, 100, "kettle");  // no owner yet: everyone only
  EventEnvelope assigned;
  assigned.mutable_owner_assigned()->set_owner("s1");
  assigned.mutable_owner_assigned()->set_team("teams/t1");
  assigned.mutable_owner_assigned()->set_department("departments/d1");
  Append(c1, kT0 + 2 * h, assigned);
  buy(kT0 + 3 * h, 200, "kettle");
  buy(kT0 + 4 * h, 400, "cup");
  EventEnvelope unassigned;
  unassigned.mutable_owner_unassigned()->set_previous_owner("s1");
  Append(c1, kT0 + 5 * h, unassigned);
  buy(kT0 + 6 * h, 800, "kettle");
  FoldAll();
  ASSERT_EQ(dead_letters_, 0);

  auto everyone = views().GetSalesStats(crm::v1::StaffScope(), "");
  EXPECT_EQ(everyone->purchase_count(), 4);
  EXPECT_EQ(everyone->amounts(0).total_minor(), 1500);
  auto team = views().GetSalesStats(TeamScope("teams/t1"), "");
  EXPECT_EQ(team->purchase_count(), 2);
  ASSERT_EQ(team->products_size(), 2);  // cup, kettle
  EXPECT_EQ(team->products(0).product(), "cup");
  EXPECT_EQ(team->products(1).amounts(0).total_minor(), 200);
  EXPECT_EQ(views().GetSalesStats(StaffScope("s1"), "kettle")->purchase_count(), 1);
  // A window of the 3rd to the 5th hour.
  const readmodel::analytics::Window window{kT0 + 3 * h, kT0 + 5 * h};
  EXPECT_EQ(views().GetSalesStats(crm::v1::StaffScope(), "", window)->purchase_count(), 2);
  auto retention = views().GetRetention(window);
  EXPECT_EQ(retention->purchasing_customers(), 1);
  EXPECT_EQ(retention->repeat_customers(), 1);
  EXPECT_EQ(retention->active_at_start(), 1);
  EXPECT_EQ(views()
                .GetRetention(readmodel::analytics::Window{kT0 + 6 * h, std::nullopt})
                ->repeat_customers(),
            0);
}

TEST_F(AnalyticsFoldTest, AMergedDuplicateLeavesTheChurnBaseWithoutChurning) {
  const absl::Duration h = absl::Hours(1);
  for (const std::string id : {"a", "dup", "gone"}) {
    EventEnvelope registered;
    registered.mutable_customer_registered()->mutable_profile()->set_display_name(id);
    AddCustomerEvent(id, kT0, registered);
  }
  EventEnvelope churned;
  churned.mutable_lifecycle_stage_changed()->set_from_stage(crm::events::v1::POTENTIAL);
  churned.mutable_lifecycle_stage_changed()->set_to_stage(crm::events::v1::CHURNED);
  AddCustomerEvent("gone", kT0 + 2 * h, churned);
  EventEnvelope merged_into;
  merged_into.mutable_customer_merged_into()->set_survivor_id("a");
  AddCustomerEvent("dup", kT0 + 3 * h, merged_into);
  FoldAll();
  ASSERT_EQ(dead_letters_, 0);

  // All time: 3 registered, 1 merged away, 1 churned: 1 of the 2 that could churn.
  auto all = views().GetRetention(readmodel::analytics::Window{});
  EXPECT_EQ(all->registered_in_window(), 3);
  EXPECT_EQ(all->merged_away(), 1);
  EXPECT_EQ(all->churned(), 1);
  EXPECT_DOUBLE_EQ(all->churn_rate(), 0.5);
  // From the 4th hour: the duplicate merged before the start is not among those active.
  auto later = views().GetRetention(readmodel::analytics::Window{kT0 + 4 * h, std::nullopt});
  EXPECT_EQ(later->active_at_start(), 1);
  EXPECT_EQ(later->merged_away(), 0);
}

// A merge that lists the merged customer's purchases (purchases_moved) makes them the
// survivor's for repeat purchases: one customer with two purchases, not two with one each. A
// refund of one of them through the survivor, whole, takes it out again; sales are net.
TEST_F(AnalyticsFoldTest, AMergeMovesPurchasesAndRefundsComeOffThem) {
  const absl::Duration h = absl::Hours(1);
  auto purchase = [](const std::string& id, absl::Time at, int64_t amount) {
    crm::events::v1::Purchase p;
    p.set_purchase_id(id);
    p.mutable_amount()->set_currency_code("CNY");
    p.mutable_amount()->set_amount_minor(amount);
    p.set_product("kettle");
    *p.mutable_purchased_at() = ToTimestamp(at);
    return p;
  };
  for (const std::string id : {"a", "dup"}) {
    EventEnvelope registered;
    registered.mutable_customer_registered()->mutable_profile()->set_display_name(id);
    AddCustomerEvent(id, kT0, registered);
  }
  EventEnvelope bought_a;
  *bought_a.mutable_purchase_recorded()->mutable_purchase() = purchase("p1", kT0 + h, 100);
  AddCustomerEvent("a", kT0 + h, bought_a);
  EventEnvelope bought_dup;
  *bought_dup.mutable_purchase_recorded()->mutable_purchase() = purchase("p2", kT0 + 2 * h, 300);
  AddCustomerEvent("dup", kT0 + 2 * h, bought_dup);
  FoldAll();
  auto before = views().GetRetention(readmodel::analytics::Window{});
  EXPECT_EQ(before->purchasing_customers(), 2);
  EXPECT_EQ(before->repeat_customers(), 0);

  EventEnvelope merged_into;
  merged_into.mutable_customer_merged_into()->set_survivor_id("a");
  merged_into.mutable_customer_merged_into()->set_purchases_moved(true);
  AddCustomerEvent("dup", kT0 + 3 * h, merged_into);
  EventEnvelope merged;
  auto* m = merged.mutable_customer_merged();
  m->set_merged_customer_id("dup");
  m->set_merged_purchase_count(1);
  m->set_purchases_moved(true);
  *m->add_merged_purchases()->mutable_purchase() = purchase("p2", kT0 + 2 * h, 300);
  auto* total = m->add_merged_totals();
  total->set_currency_code("CNY");
  total->set_total_minor(300);
  total->set_purchase_count(1);
  AddCustomerEvent("a", kT0 + 3 * h, merged);
  FoldAll();
  auto after = views().GetRetention(readmodel::analytics::Window{});
  EXPECT_EQ(after->purchasing_customers(), 1);
  EXPECT_EQ(after->repeat_customers(), 1);

  // The survivor refunds the merged purchase wholly, a day later: no repeat customer; the sales
  // of that day are -300 and one purchase fewer; all time, the kettle sold once for 100.
  EventEnvelope refunded;
  auto* r = refunded.mutable_purchase_refunded();
  *r->mutable_purchase() = purchase("p2", kT0 + 2 * h, 300);
  r->mutable_amount()->set_currency_code("CNY");
  r->mutable_amount()->set_amount_minor(300);
  r->set_refunded_minor(300);
  AddCustomerEvent("a", kT0 + 24 * h, refunded);
  FoldAll();
  ASSERT_EQ(dead_letters_, 0);
  auto last = views().GetRetention(readmodel::analytics::Window{});
  EXPECT_EQ(last->purchasing_customers(), 1);
  EXPECT_EQ(last->repeat_customers(), 0);
  auto day = views().GetSalesStats(crm::v1::StaffScope(), "",
                                   readmodel::analytics::Window{kT0 + 20 * h, kT0 + 30 * h});
  EXPECT_EQ(day->purchase_count(), -1);
  ASSERT_EQ(day->amounts_size(), 1);
  EXPECT_EQ(day->amounts(0).total_minor(), -300);
  auto all = views().GetSalesStats(crm::v1::StaffScope(), "");
  EXPECT_EQ(all->purchase_count(), 1);
  EXPECT_EQ(all->amounts(0).total_minor(), 100);
}

TEST_F(AnalyticsFoldTest, UndecodableRecordIsDataLoss) {
  kv::KvBatch batch = store_->NewBatch();
  eventlog::LogRecord record;
  record.value = "\xff\xff not a protobuf";
  EXPECT_TRUE(absl::IsDataLoss(fold_.Apply(record, batch)));
  EXPECT_EQ(batch.Count(), 0u);
}

}  // namespace
}  // namespace crm::projections::analytics
