#include "domain/org/event_codec.h"

#include "gtest/gtest.h"
#include "tests/domain/common/codec_test_util.h"

namespace crm::domain::org {
namespace {

namespace ev = crm::events::v1;
using crm::domain::testing::ExpectRoundTrip;
using crm::domain::testing::ExpectSameEnumValues;

TEST(OrgEventCodecTest, EnumsHaveTheSameValues) {
  ExpectSameEnumValues(crm::v1::DepartmentFunction_descriptor(),
                       ev::DepartmentFunction_descriptor());
  ExpectSameEnumValues(crm::v1::StaffRole_descriptor(), ev::StaffRole_descriptor());
  ExpectSameEnumValues(crm::v1::StaffLevel_descriptor(), ev::StaffLevel_descriptor());
}

TEST(OrgEventCodecTest, MessagesRoundTripEveryField) {
  ExpectRoundTrip<ev::DepartmentProfile>([](const auto& e) { return ToApi(e); },
                                         [](const crm::v1::Department& a) { return ToEvent(a); });
  ExpectRoundTrip<ev::TeamProfile>([](const auto& e) { return ToApi(e); },
                                   [](const crm::v1::Team& a) { return ToEvent(a); });
  ExpectRoundTrip<ev::StaffProfile>([](const auto& e) { return ToApi(e); },
                                    [](const crm::v1::Staff& a) { return ToEvent(a); });
}

TEST(OrgEventCodecTest, LeavesOutTheOutputOnlyFields) {
  crm::v1::Staff staff;
  staff.set_name("staff/s1");
  staff.set_version(2);
  staff.set_etag("v2");
  staff.mutable_create_time()->set_seconds(1);
  staff.mutable_update_time()->set_seconds(2);
  EXPECT_EQ(ToApi(ToEvent(staff)).ShortDebugString(), "name: \"staff/s1\"");
}

}  // namespace
}  // namespace crm::domain::org
