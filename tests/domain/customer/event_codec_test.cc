#include "domain/customer/event_codec.h"

#include "gtest/gtest.h"
#include "tests/domain/common/codec_test_util.h"

namespace crm::domain::customer {
namespace {

namespace ev = crm::events::v1;
using crm::domain::testing::ExpectRoundTrip;
using crm::domain::testing::ExpectSameEnumValues;

TEST(CustomerEventCodecTest, EnumsHaveTheSameValues) {
  ExpectSameEnumValues(crm::v1::CustomerKind_descriptor(), ev::CustomerKind_descriptor());
  ExpectSameEnumValues(crm::v1::LifecycleStage_descriptor(), ev::LifecycleStage_descriptor());
  ExpectSameEnumValues(crm::v1::ValueTier_descriptor(), ev::ValueTier_descriptor());
  ExpectSameEnumValues(crm::v1::AcquisitionSource_descriptor(), ev::AcquisitionSource_descriptor());
  ExpectSameEnumValues(crm::v1::AddressKind_descriptor(), ev::AddressKind_descriptor());
  ExpectSameEnumValues(crm::v1::SocialNetwork_descriptor(), ev::SocialNetwork_descriptor());
}

TEST(CustomerEventCodecTest, MessagesRoundTripEveryField) {
  ExpectRoundTrip<ev::CustomerProfile>([](const auto& e) { return ToApi(e); },
                                       [](const crm::v1::Customer& a) { return ToEvent(a); });
  ExpectRoundTrip<ev::ContactPerson>([](const auto& e) { return ToApi(e); },
                                     [](const crm::v1::ContactPerson& a) { return ToEvent(a); });
  ExpectRoundTrip<ev::PostalAddress>([](const auto& e) { return ToApi(e); },
                                     [](const crm::v1::PostalAddress& a) { return ToEvent(a); });
  ExpectRoundTrip<ev::SocialId>([](const auto& e) { return ToApi(e); },
                                [](const crm::v1::SocialId& a) { return ToEvent(a); });
  ExpectRoundTrip<ev::Purchase>([](const auto& e) { return ToApi(e); },
                                [](const crm::v1::Purchase& a) { return ToEvent(a); });
  ExpectRoundTrip<ev::Money>([](const auto& e) { return ToApi(e); },
                             [](const crm::v1::Money& a) { return ToEvent(a); });
}

TEST(CustomerEventCodecTest, ProfileKeepsOnlyTheProfileFields) {
  crm::v1::Customer customer;
  customer.set_name("customers/c1");
  customer.set_display_name("Acme");
  customer.set_lifecycle_stage(crm::v1::LOYAL);
  customer.set_owner("s1");
  customer.add_tags("vip");
  customer.set_value_tier(crm::v1::HIGH_VALUE);
  customer.set_version(7);
  customer.set_etag("v7");
  customer.mutable_create_time()->set_seconds(1);
  const ev::CustomerProfile profile = ToEvent(customer);
  EXPECT_EQ(profile.display_name(), "Acme");
  EXPECT_EQ(ToApi(profile).ShortDebugString(), "display_name: \"Acme\"");
}

}  // namespace
}  // namespace crm::domain::customer
