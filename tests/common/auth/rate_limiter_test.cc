#include "common/auth/rate_limiter.h"

#include "absl/strings/str_cat.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

TEST(ParseRateLimitTest, ReadsRatesPerSecondMinuteAndHour) {
  auto limit = ParseRateLimit("100/s");
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_DOUBLE_EQ(limit->per_second, 100);
  EXPECT_DOUBLE_EQ(limit->burst, 100);
  EXPECT_EQ(limit->text, "100/s");
  limit = ParseRateLimit("6000/m", 50);
  ASSERT_TRUE(limit.ok());
  EXPECT_DOUBLE_EQ(limit->per_second, 100);
  EXPECT_DOUBLE_EQ(limit->burst, 50);
  limit = ParseRateLimit("0.5/s");
  ASSERT_TRUE(limit.ok());
  EXPECT_DOUBLE_EQ(limit->burst, 1);
  EXPECT_DOUBLE_EQ(ParseRateLimit("3600/h")->per_second, 1);
  for (const char* bad : {"", "100", "100/d", "/s", "0/s", "-1/s", "x/s", "100/", "inf/s"}) {
    EXPECT_FALSE(ParseRateLimit(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseRateLimit("1/s", -1).ok());
}

TEST(RateLimiterTest, ABurstThenTheRateWithRetryInfo) {
  base::FakeClock clock;
  RateLimiter limiter(*ParseRateLimit("10/s", 3), &clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("alice").ok()) << i;
  absl::Status refused = limiter.Admit("alice");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(status::GetDetail(refused, &info));
  EXPECT_EQ(info.reason(), kRateLimited);
  EXPECT_EQ(info.metadata().at("limit"), "10/s");
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(status::GetDetail(refused, &retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 0);
  EXPECT_EQ(retry.retry_delay().nanos(), 100'000'000);  // one token at 10/s
  // Someone else is not affected.
  EXPECT_TRUE(limiter.Admit("bob").ok());
  // Waiting as told gets one call through, and only one.
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(limiter.Admit("alice").ok());
  EXPECT_FALSE(limiter.Admit("alice").ok());
  // A refused call took nothing: after 50 ms half a token is there, the delay is 50 ms.
  clock.Advance(absl::Milliseconds(50));
  refused = limiter.Admit("alice");
  ASSERT_TRUE(status::GetDetail(refused, &retry));
  EXPECT_EQ(retry.retry_delay().nanos(), 50'000'000);
  // Idle long enough, the bucket is full again, but never more than the burst.
  clock.Advance(absl::Minutes(5));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("alice").ok()) << i;
  EXPECT_FALSE(limiter.Admit("alice").ok());
}

TEST(RateLimiterTest, SlowRatesHaveLongDelays) {
  base::FakeClock clock;
  RateLimiter limiter(*ParseRateLimit("2/m"), &clock);
  EXPECT_TRUE(limiter.Admit("alice").ok());
  EXPECT_TRUE(limiter.Admit("alice").ok());
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(status::GetDetail(limiter.Admit("alice"), &retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 30);
  EXPECT_EQ(retry.retry_delay().nanos(), 0);
}

TEST(RateLimiterTest, FullBucketsAreDroppedAsTheTableGrows) {
  base::FakeClock clock;
  RateLimiter limiter(*ParseRateLimit("1/s", 1), &clock);
  for (int i = 0; i < 4096; ++i) ASSERT_TRUE(limiter.Admit(absl::StrCat("k", i)).ok());
  EXPECT_EQ(limiter.KeyCount(), 4096u);
  // A second later every bucket is full again: the next new key sweeps them out.
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.Admit("new").ok());
  EXPECT_EQ(limiter.KeyCount(), 1u);
}

}  // namespace
}  // namespace crm::auth
