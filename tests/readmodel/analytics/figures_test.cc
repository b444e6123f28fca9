// Tests of the shared figure encodings: counters, time- and number-ordered key parts, nearest
// rank, and the analytics key layout's round trips.
#include "readmodel/analytics/figures.h"

#include <filesystem>
#include <limits>
#include <memory>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/base/uuid.h"
#include "gtest/gtest.h"
#include "readmodel/analytics/analytics_keys.h"

namespace crm::readmodel::analytics {
namespace {

TEST(FiguresTest, CountersAreDecimalAndVanishAtZero) {
  const auto root = std::filesystem::path(::testing::TempDir()) / ("figures-" + base::NewUuid());
  auto store = *kv::KvStore::Open(root.string());
  kv::KvBatch batch = store->NewBatch();
  ASSERT_TRUE(AddToCounter(batch, "an/x", 3).ok());
  ASSERT_TRUE(AddToCounter(batch, "an/x", 4).ok());  // Reads its own pending write.
  ASSERT_TRUE(store->Write(batch).ok());
  EXPECT_EQ(**store->Get("an/x"), "7");
  EXPECT_EQ(*ReadCounter(*store, "an/x"), 7);
  EXPECT_EQ(*ReadCounter(*store, "an/absent"), 0);

  kv::KvBatch down = store->NewBatch();
  ASSERT_TRUE(AddToCounter(down, "an/x", -7).ok());
  ASSERT_TRUE(store->Write(down).ok());
  EXPECT_FALSE(store->Get("an/x")->has_value());

  kv::KvBatch bad = store->NewBatch();
  bad.Put("an/bad", "seven");
  ASSERT_TRUE(store->Write(bad).ok());
  EXPECT_EQ(ReadCounter(*store, "an/bad").status().code(), absl::StatusCode::kInternal);
  store.reset();
  std::filesystem::remove_all(root);
}

TEST(FiguresTest, OrderedTimeSortsLikeTime) {
  const absl::Time t = absl::FromUnixSeconds(1'700'000'000);
  const absl::Time times[] = {absl::FromUnixSeconds(-62'135'596'800),
                              absl::FromUnixSeconds(-1) + absl::Nanoseconds(5),
                              absl::UnixEpoch(),
                              t,
                              t + absl::Nanoseconds(1),
                              t + absl::Seconds(1),
                              absl::FromUnixSeconds(253'402'300'799)};
  for (size_t i = 1; i < std::size(times); ++i) {
    EXPECT_LT(OrderedTime(times[i - 1]), OrderedTime(times[i])) << i;
    EXPECT_EQ(OrderedTime(times[i]).size(), 21u);
  }
  EXPECT_EQ(OrderedTime(absl::InfinitePast()), OrderedTime(times[0]));
}

TEST(FiguresTest, NearestRank) {
  EXPECT_EQ(NearestRank(1, 90), 1);
  EXPECT_EQ(NearestRank(10, 90), 9);
  EXPECT_EQ(NearestRank(11, 90), 10);
  EXPECT_EQ(NearestRank(100, 90), 90);
  EXPECT_EQ(NearestRank(101, 90), 91);
  EXPECT_EQ(NearestRank(4, 50), 2);
}

TEST(FiguresTest, DurationsAndTimestamps) {
  EXPECT_EQ(MillisBetween(absl::UnixEpoch(), absl::UnixEpoch() + absl::Microseconds(2'999)), 2);
  EXPECT_EQ(MillisBetween(absl::UnixEpoch() + absl::Seconds(1), absl::UnixEpoch()), 0);
  const auto d = ToDurationProto(absl::Milliseconds(2) / 3);
  EXPECT_EQ(d.seconds(), 0);
  EXPECT_EQ(d.nanos(), 666'666);
  const auto ts = ToTimestamp(absl::FromUnixSeconds(-2) + absl::Nanoseconds(250));
  EXPECT_EQ(ts.seconds(), -2);
  EXPECT_EQ(ts.nanos(), 250);
  EXPECT_EQ(ToTime(ts), absl::FromUnixSeconds(-2) + absl::Nanoseconds(250));
}

TEST(AnalyticsKeysTest, RoundTrips) {
  int kind = 0;
  int severity = 0;
  SlaOutcome outcome = SlaOutcome::kPending;
  ASSERT_TRUE(ParseSlaKey(SlaKey(2, 3, SlaOutcome::kLate), &kind, &severity, &outcome));
  EXPECT_EQ(kind, 2);
  EXPECT_EQ(severity, 3);
  EXPECT_EQ(outcome, SlaOutcome::kLate);
  EXPECT_FALSE(ParseSlaKey("an/sla/2/3/soon", &kind, &severity, &outcome));

  const std::string prefix = DurationFigurePrefix(DurationMetric::kResolution, 3);
  const std::string key = DurationEntryKey(prefix, 1234, "customers/c/complaints/k");
  EXPECT_EQ(DurationOfEntryKey(key, DurationListPrefix(prefix)), 1234);
  EXPECT_LT(DurationEntryKey(prefix, 999, "z"), DurationEntryKey(prefix, 1000, "a"));
  // A staff id that is a prefix of another never shares its keys.
  EXPECT_NE(CsatPrefix(Scope::kStaff, "ab").rfind(CsatPrefix(Scope::kStaff, "a"), 0), 0u);
  EXPECT_EQ(KpiKey(Scope::kTeam, "teams/t1", Kpi::kResolved).rfind("an/kpi/team/teams/t1", 0), 0u);
}

TEST(AnalyticsKeysTest, DurationBucketsCoverEveryDurationInOrder) {
  std::vector<int64_t> samples;
  for (int64_t m = 0; m < 5000; ++m) samples.push_back(m);
  for (int bit = 4; bit < 62; ++bit) {
    for (int64_t d : {-1, 0, 1}) samples.push_back((int64_t{1} << bit) + d);
  }
  samples.push_back(int64_t{365} * 24 * 3600 * 1000);  // a year
  int last_bucket = 0;
  int64_t last = 0;
  for (int64_t m : samples) {
    const int b = DurationBucketOf(m);
    EXPECT_LE(DurationBucketStart(b), m) << m;
    EXPECT_GT(DurationBucketStart(b + 1), m) << m;
    if (m >= last) {
      EXPECT_GE(b, last_bucket) << m;  // ordered like the durations
    }
    if (m >= 16) {
      EXPECT_LE((DurationBucketStart(b + 1) - DurationBucketStart(b)) * 16, DurationBucketStart(b))
          << m;  // at most 1/16 of its start wide
    }
    last_bucket = b;
    last = m;
  }
  EXPECT_LT(DurationBucketOf(std::numeric_limits<int64_t>::max()), 10000);  // 4 digits in keys
  const std::string prefix = DurationFigurePrefix(DurationMetric::kResolution, std::nullopt);
  EXPECT_LT(DurationBucketKey(prefix, 99), DurationBucketKey(prefix, 100));
}

TEST(FiguresTest, TimeBucketsAreQuarterHours) {
  const absl::Time t = absl::FromUnixSeconds(1'700'000'000);  // 22:13:20 UTC
  EXPECT_EQ(TimeBucketStart(TimeBucketOf(t)), absl::FromUnixSeconds(1'699'999'200));
  EXPECT_EQ(TimeBucketOf(t + absl::Minutes(15)), TimeBucketOf(t) + 1);
  EXPECT_FALSE(OnTimeBucketEdge(t));
  EXPECT_TRUE(OnTimeBucketEdge(absl::FromUnixSeconds(1'699'999'200)));
  EXPECT_FALSE(OnTimeBucketEdge(absl::FromUnixSeconds(1'699'999'200) + absl::Nanoseconds(1)));
  // Midnight in Kolkata (+05:30) and Kathmandu (+05:45) is a bucket edge.
  for (const char* name : {"Asia/Kolkata", "Asia/Kathmandu"}) {
    absl::TimeZone zone;
    ASSERT_TRUE(absl::LoadTimeZone(name, &zone));
    EXPECT_TRUE(OnTimeBucketEdge(absl::FromCivil(absl::CivilDay(2025, 3, 1), zone))) << name;
  }
  EXPECT_EQ(TimedKey("an/kpi/staff/s1", TimeBucketOf(absl::UnixEpoch()), "resolved")
                .rfind("an/w/kpi/staff/s1", 0),
            0u);
}

TEST(FiguresTest, AWindowSumsTheBucketsInsideIt) {
  const auto root = std::filesystem::path(::testing::TempDir()) / ("figures-" + base::NewUuid());
  auto store = *kv::KvStore::Open(root.string());
  const absl::Time t0 = absl::FromUnixSeconds(1'699'999'200);
  const absl::Duration q = absl::Minutes(15);
  kv::KvBatch batch = store->NewBatch();
  ASSERT_TRUE(CountAt(batch, "an/x/", "a", t0, 1).ok());
  ASSERT_TRUE(CountAt(batch, "an/x/", "a", t0 + q - absl::Nanoseconds(1), 2).ok());
  ASSERT_TRUE(CountAt(batch, "an/x/", "b", t0 + q, 4).ok());
  ASSERT_TRUE(CountAt(batch, "an/x/", "a", t0 + 4 * q, 8).ok());
  ASSERT_TRUE(CountAt(batch, "an/xy/", "a", t0, 16).ok());  // another figure
  ASSERT_TRUE(store->Write(batch).ok());
  auto all = ReadFigure(*store, "an/x/", Window{});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::map<std::string, int64_t>{{"a", 11}, {"b", 4}}));
  auto first = ReadFigure(*store, "an/x/", Window{t0, t0 + q});
  EXPECT_EQ(*first, (std::map<std::string, int64_t>{{"a", 3}}));
  auto from = ReadFigure(*store, "an/x/", Window{t0 + q, std::nullopt});
  EXPECT_EQ(*from, (std::map<std::string, int64_t>{{"a", 8}, {"b", 4}}));
  auto until = ReadFigure(*store, "an/x/", Window{std::nullopt, t0 + 4 * q});
  EXPECT_EQ(*until, (std::map<std::string, int64_t>{{"a", 3}, {"b", 4}}));
  auto none = ReadFigure(*store, "an/x/", Window{t0 - q, t0});
  EXPECT_TRUE(none->empty());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace crm::readmodel::analytics
