#include "readmodel/org/org_view_keys.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace crm::readmodel::org {
namespace {

TEST(OrgViewKeysTest, SortableTimesSortInTimeOrder) {
  const absl::Time times[] = {
      absl::InfinitePast(),
      absl::FromUnixSeconds(-62'135'596'800) + absl::Seconds(1),  // 0001-01-01T00:00:01
      absl::FromUnixSeconds(-1) + absl::Milliseconds(999),
      absl::FromUnixSeconds(0),
      absl::FromUnixSeconds(0) + absl::Nanoseconds(1),
      absl::FromUnixSeconds(1'800'000'000),
      absl::FromUnixSeconds(253'402'300'799),  // 9999-12-31T23:59:59
  };
  for (size_t i = 1; i < sizeof(times) / sizeof(times[0]); ++i) {
    EXPECT_LT(SortableTime(times[i - 1]), SortableTime(times[i])) << i;
  }
  EXPECT_EQ(SortableTime(absl::FromUnixSeconds(0)), "062135596800.000000000");
  // Times before year 1 (a breach marker uses InfinitePast) are clamped to it.
  EXPECT_EQ(SortableTime(absl::InfinitePast()), "000000000000.000000000");
  EXPECT_EQ(SortableTime(absl::FromUnixSeconds(-62'135'596'800)), "000000000000.000000000");
}

TEST(OrgViewKeysTest, DueKeysCarryTheirAggregate) {
  const std::string key = DueKey(absl::FromUnixSeconds(5), "customers/c1/complaints/k1");
  EXPECT_TRUE(absl::StartsWith(key, kDuePrefix));
  EXPECT_EQ(AggregateFromDueKey(key), "customers/c1/complaints/k1");
  // Everything due before a time sorts before that time's bound.
  EXPECT_LT(key, std::string(kDuePrefix) + SortableTime(absl::FromUnixSeconds(6)));
  EXPECT_GT(key, std::string(kDuePrefix) + SortableTime(absl::FromUnixSeconds(5)));
}

TEST(OrgViewKeysTest, EveryKeyIsUnderTheOrgPrefix) {
  for (const std::string& key :
       {DepartmentKey("d"), TeamKey("t"), StaffKey("s"), WorkloadKey("s"),
        IndexKey(Index::kStaffManager, "boss", "ann"), CustomerTrackKey("c"),
        ComplaintTrackKey("customers/c/complaints/k"),
        InteractionTrackKey("customers/c/interactions/i"),
        DueKey(absl::FromUnixSeconds(1), "customers/c/interactions/i")}) {
    EXPECT_TRUE(absl::StartsWith(key, "og/")) << key;
  }
  // Index values are delimited, so one value is never a prefix match of another.
  EXPECT_FALSE(absl::StartsWith(IndexKey(Index::kStaffManager, "bossy", "ann"),
                                IndexPrefix(Index::kStaffManager, "boss")));
}

}  // namespace
}  // namespace crm::readmodel::org
