#include "domain/complaint/sla_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::domain::complaint {
namespace {

using ::testing::HasSubstr;

TEST(SlaPolicyTest, DefaultsPerSeverity) {
  const SlaPolicy policy;
  EXPECT_EQ(policy.For(crm::v1::SEVERE).response, absl::Hours(4));
  EXPECT_EQ(policy.For(crm::v1::SEVERE).resolution, absl::Hours(24));
  EXPECT_EQ(policy.For(crm::v1::GENERAL).response, absl::Hours(24));
  EXPECT_EQ(policy.For(crm::v1::GENERAL).resolution, absl::Hours(72));
  EXPECT_EQ(policy.For(crm::v1::MINOR).response, absl::Hours(48));
  EXPECT_EQ(policy.For(crm::v1::MINOR).resolution, absl::Hours(7 * 24));
  EXPECT_EQ(policy.For(crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED).response, absl::Hours(24));
  EXPECT_EQ(FormatSlaPolicy(policy), kDefaultSlaPolicy);
}

TEST(SlaPolicyTest, ParsesTheFlagSyntax) {
  auto policy = ParseSlaPolicy(" severe=1h/8h , GENERAL=90m/48h,minor=2h30m/100h ");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->severe.response, absl::Hours(1));
  EXPECT_EQ(policy->severe.resolution, absl::Hours(8));
  EXPECT_EQ(policy->general.response, absl::Minutes(90));
  EXPECT_EQ(policy->general.resolution, absl::Hours(48));
  EXPECT_EQ(policy->minor.response, absl::Minutes(150));
  EXPECT_EQ(policy->minor.resolution, absl::Hours(100));
  // Unlisted VIP entries: half of each severity's.
  EXPECT_EQ(FormatSlaPolicy(*policy),
            "severe=1h/8h,general=1h30m/48h,minor=2h30m/100h,vip.severe=30m/4h,"
            "vip.general=45m/24h,vip.minor=1h15m/50h");
  // Round trip.
  auto again = ParseSlaPolicy(FormatSlaPolicy(*policy));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatSlaPolicy(*again), FormatSlaPolicy(*policy));
}

TEST(SlaPolicyTest, DefaultTextAndEmptyTextGiveTheDefaults) {
  for (const char* text : {"", "  ", kDefaultSlaPolicy}) {
    auto policy = ParseSlaPolicy(text);
    ASSERT_TRUE(policy.ok()) << text;
    EXPECT_EQ(FormatSlaPolicy(*policy), kDefaultSlaPolicy);
  }
}

TEST(SlaPolicyTest, DeadlinesAreIndependent) {
  auto policy = ParseSlaPolicy("severe=20s/8s");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->severe.response, absl::Seconds(20));
  EXPECT_EQ(policy->severe.resolution, absl::Seconds(8));
}

TEST(SlaPolicyTest, UnlistedSeveritiesKeepTheirDefaults) {
  auto policy = ParseSlaPolicy("severe=2h/12h");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(FormatSlaPolicy(*policy),
            "severe=2h/12h,general=24h/72h,minor=48h/168h,vip.severe=1h/6h,vip.general=12h/36h,"
            "vip.minor=24h/84h");
}

TEST(SlaPolicyTest, DefaultsPerTier) {
  const SlaPolicy policy;
  // VIP (HIGH_VALUE): half of each severity's; ordinary, potential and unrecorded tiers: the
  // severity's.
  EXPECT_EQ(policy.For(crm::v1::SEVERE, crm::v1::HIGH_VALUE).response, absl::Hours(2));
  EXPECT_EQ(policy.For(crm::v1::SEVERE, crm::v1::HIGH_VALUE).resolution, absl::Hours(12));
  EXPECT_EQ(policy.For(crm::v1::GENERAL, crm::v1::HIGH_VALUE).response, absl::Hours(12));
  EXPECT_EQ(policy.For(crm::v1::MINOR, crm::v1::HIGH_VALUE).resolution, absl::Hours(84));
  for (crm::v1::ValueTier tier : {crm::v1::ORDINARY, crm::v1::POTENTIAL_VALUE,
                                  crm::v1::VALUE_TIER_UNSPECIFIED, crm::v1::ValueTier(42)}) {
    EXPECT_EQ(policy.For(crm::v1::SEVERE, tier).response, absl::Hours(4)) << tier;
    EXPECT_EQ(policy.For(crm::v1::MINOR, tier).resolution, absl::Hours(168)) << tier;
  }
}

TEST(SlaPolicyTest, TierEntriesOverrideTheSeverity) {
  auto policy = ParseSlaPolicy(
      "severe=3h/20h, VIP.severe=1h/8h, high_value.minor=5h/50h, potential.general=30h/96h");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->For(crm::v1::SEVERE, crm::v1::HIGH_VALUE).response, absl::Hours(1));
  EXPECT_EQ(policy->For(crm::v1::SEVERE, crm::v1::HIGH_VALUE).resolution, absl::Hours(8));
  EXPECT_EQ(policy->For(crm::v1::MINOR, crm::v1::HIGH_VALUE).response, absl::Hours(5));
  // vip.general not given: half of general (the default 24h/72h).
  EXPECT_EQ(policy->For(crm::v1::GENERAL, crm::v1::HIGH_VALUE).response, absl::Hours(12));
  EXPECT_EQ(policy->For(crm::v1::GENERAL, crm::v1::POTENTIAL_VALUE).resolution, absl::Hours(96));
  EXPECT_EQ(policy->For(crm::v1::GENERAL, crm::v1::ORDINARY).resolution, absl::Hours(72));
  EXPECT_EQ(policy->For(crm::v1::SEVERE, crm::v1::ORDINARY).response, absl::Hours(3));
  EXPECT_EQ(FormatSlaPolicy(*policy),
            "severe=3h/20h,general=24h/72h,minor=48h/168h,vip.severe=1h/8h,vip.general=12h/36h,"
            "vip.minor=5h/50h,potential.general=30h/96h");
  auto again = ParseSlaPolicy(FormatSlaPolicy(*policy));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(FormatSlaPolicy(*again), FormatSlaPolicy(*policy));
}

TEST(SlaPolicyTest, RejectsBadTextWithAClearMessage) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : {
           Case{"urgent=1h/2h", "unknown severity \"urgent\""},
           Case{"severe=4h", "expected <response>/<resolution>"},
           Case{"severe", "expected [<tier>.]<severity>=<response>/<resolution>"},
           Case{"gold.severe=1h/2h", "unknown tier \"gold\""},
           Case{"vip.urgent=1h/2h", "unknown severity \"urgent\""},
           Case{"vip.severe=1h/2h,high_value.severe=1h/3h", "tier and severity given twice"},
           Case{"vip.severe=1h", "expected <response>/<resolution>"},
           Case{"minor=2d/7d", "is not a duration"},
           Case{"minor=abc/7h", "is not a duration"},
           Case{"severe=0h/4h", "must be positive"},
           Case{"severe=-1h/4h", "must be positive"},
           Case{"severe=inf/4h", "must be positive and finite"},
           Case{"severe=1h/4h,severe=2h/4h", "severity given twice"},
           Case{"severe=1h/4h,,minor=1h/2h", "empty entry"},
       }) {
    SCOPED_TRACE(c.text);
    auto policy = ParseSlaPolicy(c.text);
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr(c.why));
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr(kDefaultSlaPolicy));
  }
}

}  // namespace
}  // namespace crm::domain::complaint
