#include "domain/complaint/event_codec.h"

#include "gtest/gtest.h"
#include "tests/domain/common/codec_test_util.h"

namespace crm::domain::complaint {
namespace {

namespace ev = crm::events::v1;
using crm::domain::testing::ExpectRoundTrip;
using crm::domain::testing::ExpectSameEnumValues;

TEST(ComplaintEventCodecTest, EnumsHaveTheSameValues) {
  ExpectSameEnumValues(crm::v1::ComplaintCategory_descriptor(), ev::ComplaintCategory_descriptor());
  ExpectSameEnumValues(crm::v1::ComplaintSeverity_descriptor(), ev::ComplaintSeverity_descriptor());
  ExpectSameEnumValues(crm::v1::RootCause_descriptor(), ev::RootCause_descriptor());
  ExpectSameEnumValues(crm::v1::SlaKind_descriptor(), ev::SlaKind_descriptor());
}

TEST(ComplaintEventCodecTest, FollowUpVisitRoundTripsEveryField) {
  ExpectRoundTrip<ev::FollowUpVisit>([](const auto& e) { return ToApi(e); },
                                     [](const crm::v1::FollowUpVisit& a) { return ToEvent(a); });
}

}  // namespace
}  // namespace crm::domain::complaint
