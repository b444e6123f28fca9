#include "domain/interaction/event_codec.h"

#include "gtest/gtest.h"
#include "tests/domain/common/codec_test_util.h"

namespace crm::domain::interaction {
namespace {

namespace ev = crm::events::v1;
using crm::domain::testing::ExpectRoundTrip;
using crm::domain::testing::ExpectSameEnumValues;

TEST(InteractionEventCodecTest, EnumsHaveTheSameValues) {
  ExpectSameEnumValues(crm::v1::Direction_descriptor(), ev::Direction_descriptor());
}

TEST(InteractionEventCodecTest, LoggedInteractionRoundTripsEveryField) {
  ExpectRoundTrip<ev::LoggedInteraction>([](const auto& e) { return ToApi(e); },
                                         [](const crm::v1::Interaction& a) { return ToEvent(a); });
}

TEST(InteractionEventCodecTest, LeavesOutWhatInteractionLoggedDoesNotRecord) {
  crm::v1::Interaction interaction;
  interaction.set_summary("Called");
  interaction.mutable_follow_up_complete_time()->set_seconds(5);
  interaction.set_follow_up_note("done");
  interaction.set_version(3);
  interaction.set_etag("v3");
  interaction.mutable_update_time()->set_seconds(5);
  EXPECT_EQ(ToApi(ToEvent(interaction)).ShortDebugString(), "summary: \"Called\"");
}

}  // namespace
}  // namespace crm::domain::interaction
