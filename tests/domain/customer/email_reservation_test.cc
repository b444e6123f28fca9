#include "domain/customer/email_reservation.h"

#include <set>

#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace crm::domain::customer {
namespace {

using crm::events::v1::EventEnvelope;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class EmailReservationTest : public ::testing::Test {
 protected:
  // Decides a claim at `now` and applies its events.
  int Claim(const std::string& customer, int64_t version, absl::Time now) {
    ClaimContext context{
        .now = now, .holds_address = [&](absl::string_view id) {
          return absl::StatusOr<bool>(holders_with_address_.count(std::string(id)) > 0);
        }};
    auto events = DecideClaim(state_, customer, version, context);
    EXPECT_TRUE(events.ok()) << events.status();
    for (EventEnvelope& e : *events) {
      *e.mutable_recorded_at() = base::ToTimestamp(now);
      EXPECT_TRUE(ApplyReservation(state_, e).ok());
    }
    return static_cast<int>(events->size());
  }
  int Release(const std::string& customer, int64_t version) {
    auto events = DecideRelease(state_, customer, version);
    for (EventEnvelope& e : events) EXPECT_TRUE(ApplyReservation(state_, e).ok());
    return static_cast<int>(events.size());
  }

  ReservationState state_;
  std::set<std::string> holders_with_address_;
};

TEST_F(EmailReservationTest, AFreeAddressIsClaimedOnce) {
  EXPECT_EQ(Claim("a", 0, kT0), 1);
  EXPECT_EQ(state_.holder(), "a");
  EXPECT_EQ(Claim("a", 0, kT0 + absl::Seconds(1)), 0);  // usable claim for that version
  EXPECT_EQ(Claim("b", 0, kT0 + absl::Seconds(1)), 0);  // taken
  EXPECT_EQ(state_.holder(), "a");
}

TEST_F(EmailReservationTest, AYoungClaimIsTakenEvenIfItsHolderHasNotUsedIt) {
  Claim("a", 0, kT0);
  EXPECT_EQ(Claim("b", 0, kT0 + kClaimLease - absl::Seconds(1)), 0);
  EXPECT_EQ(state_.holder(), "a");
}

TEST_F(EmailReservationTest, AnUnusedClaimLapsesAfterTheLease) {
  Claim("a", 0, kT0);
  EXPECT_EQ(Claim("b", 3, kT0 + kClaimLease), 1);
  EXPECT_EQ(state_.holder(), "b");
  EXPECT_EQ(state_.holder_version(), 3);
}

TEST_F(EmailReservationTest, AnOldClaimWhoseHolderHasTheAddressNeverLapses) {
  Claim("a", 0, kT0);
  holders_with_address_.insert("a");
  EXPECT_EQ(Claim("b", 0, kT0 + 100 * kClaimLease), 0);
  EXPECT_EQ(state_.holder(), "a");
}

TEST_F(EmailReservationTest, TheHolderRenewsForAnotherVersionOrAnOldClaim) {
  Claim("a", 0, kT0);
  EXPECT_EQ(Claim("a", 4, kT0 + absl::Seconds(1)), 1);
  EXPECT_EQ(state_.holder_version(), 4);
  EXPECT_EQ(Claim("a", 4, UsableUntil(state_)), 1);
}

TEST_F(EmailReservationTest, AReleaseFreesOnlyClaimsMadeBeforeItsVersion) {
  Claim("a", 2, kT0);             // the update that adds the address is recorded at version 3
  EXPECT_EQ(Release("a", 2), 0);  // not before the claim's command
  EXPECT_EQ(Release("b", 9), 0);  // not the holder
  // Added back after the removal at version 5: the late release of version 5 must not free it.
  Claim("a", 5, kT0 + absl::Seconds(1));
  EXPECT_EQ(Release("a", 5), 0);
  EXPECT_EQ(state_.holder(), "a");
  EXPECT_EQ(Release("a", 7), 1);
  EXPECT_TRUE(state_.holder().empty());
  EXPECT_EQ(Claim("b", 0, kT0 + absl::Seconds(2)), 1);
}

TEST_F(EmailReservationTest, NamesCarryNoAddress) {
  const std::string name = ReservationName("zhang.wei@example.cn");
  EXPECT_EQ(name.rfind("emailReservations/", 0), 0u);
  EXPECT_EQ(name.find("zhang"), std::string::npos);
  EXPECT_EQ(name, ReservationName("zhang.wei@example.cn"));
  EXPECT_NE(name, ReservationName("li.na@example.cn"));
}

TEST_F(EmailReservationTest, ExternalIdsAreReservedTheSameWay) {
  const std::string name = ExternalIdReservationName("ERP-0042");
  EXPECT_EQ(name.rfind("externalIdReservations/", 0), 0u);
  EXPECT_EQ(name.find("ERP"), std::string::npos);
  EXPECT_EQ(name, ReservationName(ReservedKey::kExternalId, "ERP-0042"));
  EXPECT_NE(name, ReservationName(ReservedKey::kEmail, "ERP-0042"));

  ClaimContext context{.now = kT0, .holds_address = [](absl::string_view) { return true; }};
  auto claimed = DecideClaim(state_, "a", 3, context, ReservedKey::kExternalId);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_TRUE((*claimed)[0].has_external_id_claimed());
  EXPECT_EQ((*claimed)[0].external_id_claimed().customer_version(), 3);
  *(*claimed)[0].mutable_recorded_at() = base::ToTimestamp(kT0);
  EXPECT_TRUE(IsReservationEvent((*claimed)[0]));
  ASSERT_TRUE(ApplyReservation(state_, (*claimed)[0]).ok());
  EXPECT_EQ(state_.holder(), "a");

  auto released = DecideRelease(state_, "a", 4, ReservedKey::kExternalId);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_TRUE(released[0].has_external_id_released());
  ASSERT_TRUE(ApplyReservation(state_, released[0]).ok());
  EXPECT_TRUE(state_.holder().empty());
}

}  // namespace
}  // namespace crm::domain::customer
