// The survey views and figures (projections/survey, readmodel/survey) checked against a
// brute-force recomputation from the event history.
//
// A seeded generator writes more than 10,000 valid, stamped survey events (surveys sent by staff
// with and without a team or department, in every channel, to customers of every tier including
// unspecified, some following a complaint; answered with CSAT only, NPS only or both, expired, or
// still open), interleaved with events the fold must ignore and with redelivered duplicates, into
// a partitioned in-memory log. A real FoldRunner folds them into a real KvStore. The test
// recomputes every figure naively from the event list (per survey, then per group, with none of
// the fold's code) and compares exactly; rebuilds with other batch sizes and compares every key
// under "sv/" byte for byte; and re-applies every record to check nothing is written twice.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/customer/customer_aggregate.h"
#include "gtest/gtest.h"
#include "projections/survey/survey_fold.h"
#include "readmodel/survey/survey_views.h"
#include "tests/projections/fold_harness.h"

namespace crm::projections::survey {
namespace {

using crm::events::v1::EventEnvelope;
using google::protobuf::Timestamp;
namespace ev = crm::events::v1;

constexpr int kCustomers = 400;
constexpr int kSurveysPerCustomer = 16;
constexpr int kStaff = 12;
const absl::Time kStart = absl::FromUnixSeconds(1'704'067'200);  // 2024-01-01T00:00:00Z

Timestamp Ts(absl::Time t) {
  Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// Staff u0..u11: u0-u9 in teams q0..q4 (departments p0, p1); u10 has a department only, u11
// neither.
ev::StaffRef Staff(int s) {
  ev::StaffRef ref;
  ref.set_staff_id(absl::StrCat("u", s));
  if (s < 10) {
    ref.set_team(absl::StrCat("teams/q", s % 5));
    ref.set_department(absl::StrCat("departments/p", (s % 5) / 3));
  } else if (s == 10) {
    ref.set_department("departments/p1");
  }
  return ref;
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::vector<EventEnvelope> Generate() {
    for (int c = 0; c < kCustomers; ++c) Customer(absl::StrFormat("k%04d", c));
    std::sort(events_.begin(), events_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<EventEnvelope> out;
    for (auto& [key, e] : events_) out.push_back(std::move(e));
    return out;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  void Emit(const std::string& customer, const std::string& aggregate, absl::Time at,
            EventEnvelope e) {
    const int64_t n = ++sequence_;
    e.set_event_id(absl::StrFormat("00000000-0000-4000-9000-%012d", n));
    e.set_customer_id(customer);
    e.set_aggregate(aggregate);
    e.set_aggregate_version(++versions_[aggregate]);
    *e.mutable_recorded_at() = Ts(at);
    if (!e.has_occurred_at()) *e.mutable_occurred_at() = Ts(at);
    e.set_actor("generator");
    e.set_event_type(domain::customer::EventTypeName(e));
    e.set_schema_version(1);
    events_.push_back({{absl::ToUnixSeconds(at), n}, std::move(e)});
  }

  void Customer(const std::string& id) {
    const std::string customer = absl::StrCat("customers/", id);
    absl::Time now = kStart + absl::Minutes(Uniform(0, 90 * 24 * 60));
    {
      EventEnvelope e;  // not a survey event: ignored by the fold
      e.mutable_customer_registered()->mutable_profile()->set_display_name(id);
      Emit(id, customer, now, e);
    }
    for (int i = 0; i < kSurveysPerCustomer; ++i) {
      now += absl::Minutes(Uniform(1, 3000));
      const std::string name = absl::StrCat(customer, "/surveys/s", i);
      const absl::Time due = now + absl::Hours(Uniform(1, 24 * 14));
      EventEnvelope sent;
      auto* s = sent.mutable_survey_sent();
      s->set_name(name);
      s->set_channel(static_cast<ev::SurveyChannel>(Uniform(1, 3)));
      *s->mutable_staff() = Staff(Uniform(0, kStaff - 1));
      if (Chance(0.3)) s->set_complaint(absl::StrCat(customer, "/complaints/c", i));
      *s->mutable_answer_due_time() = Ts(due);
      s->set_customer_tier(static_cast<ev::ValueTier>(Uniform(0, 3)));
      Emit(id, name, now, sent);
      if (Chance(0.1)) {  // an unrelated event of the same customer in between
        EventEnvelope tagged;
        tagged.mutable_customer_tagged()->set_tag("t");
        Emit(id, customer, now, tagged);
      }
      const int outcome = Uniform(0, 9);
      if (outcome < 6) {  // answered before the deadline
        const absl::Time at = now + (due - now) * (Uniform(1, 99) / 100.0);
        EventEnvelope answered;
        auto* a = answered.mutable_survey_answered();
        const int kind = Uniform(0, 2);  // csat only, nps only, both
        if (kind != 1) a->set_csat(Uniform(1, 5));
        if (kind != 0) a->set_nps(Uniform(0, 10));
        a->set_comment("fine");
        *a->mutable_answer_time() = Ts(at);
        *answered.mutable_occurred_at() = Ts(at);
        Emit(id, name, at, answered);
      } else if (outcome < 9) {  // expired by the watcher
        EventEnvelope expired;
        *expired.mutable_survey_expired()->mutable_answer_due_time() = Ts(due);
        *expired.mutable_occurred_at() = Ts(due);
        Emit(id, name, due + absl::Seconds(Uniform(0, 5)), expired);
      }  // else still open
    }
  }

  std::mt19937_64 rng_;
  int64_t sequence_ = 0;
  std::map<std::string, int64_t> versions_;
  std::vector<std::pair<std::pair<int64_t, int64_t>, EventEnvelope>> events_;
};

// ---------------------------------------------------------------------------------------------
// The naive recomputation: each survey's facts from its events, then each group's figures.

struct Facts {
  std::string staff, team, department;
  int channel = 0, tier = 0;
  bool followed_complaint = false;
  enum { kOpen, kAnswered, kExpired } outcome = kOpen;
  std::optional<int> csat, nps;
  // The times that put each count in a window: the send, the answer, the answer deadline.
  absl::Time sent_at, decided_at;
};

// A report window [start, end); unset ends are open.
struct Span {
  std::optional<absl::Time> start, end;
  bool Contains(absl::Time t) const { return (!start || t >= *start) && (!end || t < *end); }
};

std::map<std::string, Facts> SurveysOf(const std::vector<EventEnvelope>& events) {
  std::map<std::string, Facts> out;
  for (const EventEnvelope& e : events) {
    if (e.has_survey_sent()) {
      Facts f;
      f.staff = e.survey_sent().staff().staff_id();
      f.team = e.survey_sent().staff().team();
      f.department = e.survey_sent().staff().department();
      f.channel = e.survey_sent().channel();
      f.tier = e.survey_sent().customer_tier() == 0 ? 2 : e.survey_sent().customer_tier();
      f.followed_complaint = !e.survey_sent().complaint().empty();
      f.sent_at = absl::FromUnixSeconds(e.occurred_at().seconds());
      out[e.aggregate()] = f;
    } else if (e.has_survey_answered()) {
      Facts& f = out.at(e.aggregate());
      f.outcome = Facts::kAnswered;
      f.decided_at = absl::FromUnixSeconds(e.occurred_at().seconds());
      if (e.survey_answered().has_csat()) f.csat = e.survey_answered().csat();
      if (e.survey_answered().has_nps()) f.nps = e.survey_answered().nps();
    } else if (e.has_survey_expired()) {
      Facts& f = out.at(e.aggregate());
      f.outcome = Facts::kExpired;
      f.decided_at = absl::FromUnixSeconds(e.occurred_at().seconds());
    }
  }
  return out;
}

crm::v1::SurveyFigures Figures(const std::vector<const Facts*>& surveys, const Span& span = {}) {
  crm::v1::SurveyFigures f;
  std::vector<int64_t> csat(5, 0);
  int64_t csat_sum = 0;
  for (const Facts* s : surveys) {
    if (span.Contains(s->sent_at)) f.set_sent(f.sent() + 1);
    if (s->outcome == Facts::kOpen || !span.Contains(s->decided_at)) continue;
    if (s->outcome == Facts::kAnswered) f.set_answered(f.answered() + 1);
    if (s->outcome == Facts::kExpired) f.set_expired(f.expired() + 1);
    if (s->csat) {
      ++csat[*s->csat - 1];
      csat_sum += *s->csat;
      f.set_csat_answers(f.csat_answers() + 1);
    }
    if (s->nps) {
      f.set_nps_answers(f.nps_answers() + 1);
      if (*s->nps >= 9) f.set_promoters(f.promoters() + 1);
      if (*s->nps == 7 || *s->nps == 8) f.set_passives(f.passives() + 1);
      if (*s->nps <= 6) f.set_detractors(f.detractors() + 1);
    }
  }
  for (int64_t c : csat) f.add_csat_counts(c);
  const int64_t decided = f.answered() + f.expired();
  f.set_response_rate(decided ? static_cast<double>(f.answered()) / decided : 0);
  f.set_csat_mean(f.csat_answers() ? static_cast<double>(csat_sum) / f.csat_answers() : 0);
  f.set_nps(f.nps_answers() ? 100.0 * (f.promoters() - f.detractors()) / f.nps_answers() : 0);
  return f;
}

void ExpectFigures(const crm::v1::SurveyFigures& got, const crm::v1::SurveyFigures& want,
                   const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.sent(), want.sent());
  EXPECT_EQ(got.answered(), want.answered());
  EXPECT_EQ(got.expired(), want.expired());
  EXPECT_DOUBLE_EQ(got.response_rate(), want.response_rate());
  EXPECT_EQ(got.csat_answers(), want.csat_answers());
  EXPECT_DOUBLE_EQ(got.csat_mean(), want.csat_mean());
  ASSERT_EQ(got.csat_counts_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(got.csat_counts(i), want.csat_counts(i)) << i + 1;
  EXPECT_EQ(got.nps_answers(), want.nps_answers());
  EXPECT_EQ(got.promoters(), want.promoters());
  EXPECT_EQ(got.passives(), want.passives());
  EXPECT_EQ(got.detractors(), want.detractors());
  EXPECT_DOUBLE_EQ(got.nps(), want.nps());
}

// Groups by a key, in key order, each group's figures.
// Only groups with a count in the window.
template <typename Key>
std::map<Key, crm::v1::SurveyFigures> By(const std::map<std::string, Facts>& surveys,
                                         const std::function<std::optional<Key>(const Facts&)>& key,
                                         const Span& span = {}) {
  std::map<Key, std::vector<const Facts*>> groups;
  for (const auto& [name, f] : surveys) {
    if (auto k = key(f)) groups[*k].push_back(&f);
  }
  std::map<Key, crm::v1::SurveyFigures> out;
  for (const auto& [k, members] : groups) {
    crm::v1::SurveyFigures f = Figures(members, span);
    if (f.sent() + f.answered() + f.expired() > 0) out[k] = f;
  }
  return out;
}

class SurveyBruteForceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_ = Generator(20261204).Generate();
    // Redeliver about 2% of the events later in their own stream: the fold must skip them.
    harness_.AppendWithRedeliveries(events_, 0.02, 200, 11);
  }

  std::unique_ptr<kv::KvStore> Fold(const std::string& name, size_t max_batch) {
    return harness_.Fold(name, {&fold_}, max_batch);
  }
  static std::map<std::string, std::string> Dump(const kv::KvStore& store) {
    return testing::FoldHarness::Dump(store, {"sv/"});
  }

  testing::FoldHarness harness_{"survey-brute"};
  SurveyFold fold_;
  std::vector<EventEnvelope> events_;
};

// Every figure of `stats` against the recomputation of the counts in `span`.
void ExpectStats(const crm::v1::SurveyStats& stats, const std::map<std::string, Facts>& surveys,
                 const Span& span, const std::string& what) {
  SCOPED_TRACE(what);
  std::vector<const Facts*> all;
  for (const auto& [name, f] : surveys) all.push_back(&f);
  ExpectFigures(stats.total(), Figures(all, span), "total");
  using Str = std::optional<std::string>;
  auto check = [](const auto& got_groups, const auto& want, auto key_of, const std::string& what) {
    ASSERT_EQ(static_cast<size_t>(got_groups.size()), want.size()) << what;
    auto it = want.begin();
    for (const crm::v1::SurveyGroup& g : got_groups) {
      EXPECT_EQ(key_of(g), it->first) << what;
      ExpectFigures(g.figures(), it->second, absl::StrCat(what, " ", it->first));
      ++it;
    }
  };
  check(
      stats.by_staff(),
      By<std::string>(
          surveys, [](const Facts& f) -> Str { return f.staff; }, span),
      [](const crm::v1::SurveyGroup& g) { return g.staff_id(); }, "staff");
  check(
      stats.by_team(),
      By<std::string>(
          surveys, [](const Facts& f) -> Str { return f.team.empty() ? Str() : Str(f.team); },
          span),
      [](const crm::v1::SurveyGroup& g) { return g.team(); }, "team");
  check(
      stats.by_department(),
      By<std::string>(
          surveys,
          [](const Facts& f) -> Str { return f.department.empty() ? Str() : Str(f.department); },
          span),
      [](const crm::v1::SurveyGroup& g) { return g.department(); }, "department");
  check(
      stats.by_channel(),
      By<int>(
          surveys, [](const Facts& f) -> std::optional<int> { return f.channel; }, span),
      [](const crm::v1::SurveyGroup& g) { return static_cast<int>(g.channel()); }, "channel");
  check(
      stats.by_customer_tier(),
      By<int>(
          surveys, [](const Facts& f) -> std::optional<int> { return f.tier; }, span),
      [](const crm::v1::SurveyGroup& g) { return static_cast<int>(g.customer_tier()); }, "tier");
  check(
      stats.by_driver(),
      By<bool>(
          surveys, [](const Facts& f) -> std::optional<bool> { return f.followed_complaint; },
          span),
      [](const crm::v1::SurveyGroup& g) { return g.followed_complaint(); }, "driver");
}

TEST_F(SurveyBruteForceTest, EveryFigureMatchesARecomputationFromTheEvents) {
  const size_t survey_events =
      std::count_if(events_.begin(), events_.end(), [](const EventEnvelope& e) {
        return e.has_survey_sent() || e.has_survey_answered() || e.has_survey_expired();
      });
  ASSERT_GE(survey_events, 10'000u);
  auto store = Fold("views", 512);
  readmodel::survey::SurveyViews views(store.get());
  auto stats = views.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();

  const std::map<std::string, Facts> surveys = SurveysOf(events_);
  ExpectStats(*stats, surveys, {}, "all time");
  // The mix is rich enough for every figure to mean something.
  EXPECT_GT(stats->total().expired(), 1000);
  EXPECT_GT(stats->total().sent(), stats->total().answered() + stats->total().expired());
  EXPECT_GT(stats->total().promoters(), 0);
  EXPECT_GT(stats->total().detractors(), 0);

  // Windows: each count in the window of its own time (a survey sent before a window and
  // answered in it counts as answered there, not as sent). Ends on quarter hours, some not on
  // whole hours; open ends; an empty window.
  const std::vector<std::pair<Span, std::string>> spans = {
      {{kStart + absl::Hours(24 * 30), kStart + absl::Hours(24 * 60)}, "days 30-60"},
      {{std::nullopt, kStart + absl::Hours(24 * 45) + absl::Minutes(15)}, "until day 45 00:15"},
      {{kStart + absl::Hours(24 * 100) + absl::Minutes(405), std::nullopt}, "from day 100 06:45"},
      {{kStart + absl::Hours(24 * 20) + absl::Minutes(45),
        kStart + absl::Hours(24 * 20) + absl::Minutes(60)},
       "one quarter hour"},
      {{kStart - absl::Hours(24), kStart}, "before everything"},
  };
  for (const auto& [span, what] : spans) {
    auto windowed = views.Stats({span.start, span.end});
    ASSERT_TRUE(windowed.ok()) << windowed.status();
    ExpectStats(*windowed, surveys, span, what);
  }
  auto before = views.Stats({kStart - absl::Hours(24), kStart});
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->total().sent(), 0);
  EXPECT_EQ(before->by_staff_size(), 0);
  auto month = views.Stats({kStart + absl::Hours(24 * 30), kStart + absl::Hours(24 * 60)});
  ASSERT_TRUE(month.ok());
  EXPECT_GT(month->total().sent(), 100);
  EXPECT_GT(month->total().answered(), 100);
  EXPECT_LT(month->total().sent(), stats->total().sent());

  // Every survey's view and one customer's list.
  for (const auto& [name, f] : surveys) {
    auto view = views.Get(name);
    ASSERT_TRUE(view.ok() && view->has_value()) << name;
    const auto state = f.outcome == Facts::kAnswered  ? crm::v1::SURVEY_ANSWERED
                       : f.outcome == Facts::kExpired ? crm::v1::SURVEY_EXPIRED
                                                      : crm::v1::SURVEY_AWAITING_ANSWER;
    EXPECT_EQ((*view)->state(), state) << name;
    EXPECT_EQ((*view)->has_csat(), f.csat.has_value()) << name;
    EXPECT_EQ((*view)->has_nps(), f.nps.has_value()) << name;
  }
  std::vector<std::string> listed;
  std::string cursor;
  do {
    auto page = views.ListForCustomer("k0007", crm::v1::SURVEY_STATE_UNSPECIFIED, cursor, 5);
    ASSERT_TRUE(page.ok());
    for (const auto& s : page->surveys) listed.push_back(s.name());
    cursor = page->next_cursor;
  } while (!cursor.empty());
  std::vector<std::string> want;
  for (const auto& [name, f] : surveys) {
    if (name.rfind("customers/k0007/", 0) == 0) want.push_back(name);
  }
  EXPECT_EQ(listed, want);
}

TEST_F(SurveyBruteForceTest, RebuildFromZeroIsByteIdentical) {
  const auto a = Dump(*Fold("first", 512));
  const auto b = Dump(*Fold("second", 29));
  EXPECT_GT(a.size(), 6000u);
  EXPECT_TRUE(a == b) << "the stores differ";
}

TEST_F(SurveyBruteForceTest, ReapplyingEveryRecordWritesNothing) {
  auto store = Fold("views", 512);
  SurveyFold fold;
  harness_.ExpectReapplyWritesNothing(*store, {&fold}, {"sv/"});
}

}  // namespace
}  // namespace crm::projections::survey
