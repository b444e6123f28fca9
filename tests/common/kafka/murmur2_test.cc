#include "common/kafka/murmur2.h"

#include <string>

#include "gtest/gtest.h"

namespace crm::eventlog {
namespace {

// Vectors from Apache Kafka's UtilsTest.testMurmur2.
TEST(Murmur2Test, MatchesJavaClient) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
}

TEST(Murmur2Test, PartitionIsInRangeAndStable) {
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "customer-" + std::to_string(i);
    const int32_t p = Murmur2Partition(key, 6);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 6);
    EXPECT_EQ(p, Murmur2Partition(key, 6));
  }
}

}  // namespace
}  // namespace crm::eventlog
