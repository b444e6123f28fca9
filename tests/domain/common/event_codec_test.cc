#include "domain/common/event_codec.h"

#include "gtest/gtest.h"
#include "tests/domain/common/codec_test_util.h"

namespace crm::domain {
namespace {

namespace ev = crm::events::v1;

TEST(EventCodecTest, SharedEnumsHaveTheSameValues) {
  testing::ExpectSameEnumValues(crm::v1::Channel_descriptor(), ev::Channel_descriptor());
}

TEST(EventCodecTest, StaffRefRoundTripsEveryField) {
  testing::ExpectRoundTrip<ev::StaffRef>([](const ev::StaffRef& e) { return ToApi(e); },
                                         [](const crm::v1::StaffRef& a) { return ToEvent(a); });
}

TEST(EventCodecTest, EnumsConvertByNumberEvenUnknownOnes) {
  EXPECT_EQ(crm::events::v1::SOCIAL_MEDIA, ev::SOCIAL_MEDIA);
  EXPECT_EQ(ToApi(ev::OFFLINE_EVENT), crm::v1::OFFLINE_EVENT);
  // A newer writer's value keeps its number (proto3 enums are open).
  EXPECT_EQ(static_cast<int>(ToApi(static_cast<ev::Channel>(42))), 42);
}

}  // namespace
}  // namespace crm::domain
