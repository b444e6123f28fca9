#include "readmodel/interaction/view_keys.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace crm::readmodel::interaction {
namespace {

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(nanos);
  return ts;
}

// Times in increasing order, across the epoch and the whole Timestamp range.
std::vector<google::protobuf::Timestamp> Increasing() {
  return {At(-62'135'596'800),
          At(-1'000'000'000, 5),
          At(-1, 999'999'999),
          At(0),
          At(0, 1),
          At(1),
          At(1'700'000'000),
          At(1'700'000'000, 500'000),
          At(253'402'300'799, 999'999'999)};
}

TEST(InteractionViewKeysTest, AscendingTimeSortsAsTime) {
  const auto times = Increasing();
  for (size_t i = 1; i < times.size(); ++i) {
    EXPECT_LT(AscendingTime(times[i - 1]), AscendingTime(times[i])) << i;
    EXPECT_EQ(AscendingTime(times[i]).size(), 21u);
  }
}

TEST(InteractionViewKeysTest, DescendingTimeSortsNewestFirst) {
  const auto times = Increasing();
  for (size_t i = 1; i < times.size(); ++i) {
    EXPECT_GT(DescendingTime(times[i - 1]), DescendingTime(times[i])) << i;
    EXPECT_EQ(DescendingTime(times[i]).size(), 21u);
  }
}

TEST(InteractionViewKeysTest, OutOfRangeTimesAreClamped) {
  EXPECT_EQ(AscendingTime(At(-99'999'999'999)), AscendingTime(At(-62'135'596'800)));
  EXPECT_EQ(AscendingTime(At(999'999'999'999, 2'000'000'000)),
            AscendingTime(At(253'402'300'799, 999'999'999)));
}

TEST(InteractionViewKeysTest, TimelineKeysOfOneCustomerShareAPrefixOthersDoNot) {
  const std::string key = TimelineKey("acme", At(5), "e1");
  EXPECT_TRUE(absl::StartsWith(key, TimelinePrefix("acme")));
  EXPECT_FALSE(absl::StartsWith(key, TimelinePrefix("acm")));  // the separator ends the id
  EXPECT_TRUE(absl::StartsWith(key, kViewsPrefix));
  EXPECT_EQ(LastPart(key), "e1");
  // Same time: event id order.
  EXPECT_LT(TimelineKey("acme", At(5), "e1"), TimelineKey("acme", At(5), "e2"));
  // Newer first.
  EXPECT_LT(TimelineKey("acme", At(6), "e9"), TimelineKey("acme", At(5), "e1"));
}

TEST(InteractionViewKeysTest, FollowUpAndCustomerKeys) {
  const std::string name = "customers/acme/interactions/i1";
  const std::string key = FollowUpKey("ann", At(10), name);
  EXPECT_TRUE(absl::StartsWith(key, FollowUpPrefix("ann")));
  EXPECT_EQ(LastPart(key), name);
  EXPECT_LT(FollowUpKey("ann", At(10), "z"), FollowUpKey("ann", At(11), "a"));
  EXPECT_EQ(LastPart(CustomerInteractionKey("acme", At(1), "i1")), "i1");
  EXPECT_EQ(InteractionKey(name), "in/i/" + name);
}

}  // namespace
}  // namespace crm::readmodel::interaction
