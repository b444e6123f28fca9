#include "services/access/owner_place.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace crm::services::access {
namespace {

class OwnerPlaceTest : public ::testing::Test {
 protected:
  OrgDirectory Directory() {
    OrgDirectory org;
    org.staff = [this](absl::string_view id) -> absl::StatusOr<std::optional<crm::v1::Staff>> {
      if (id == "broken") return absl::UnavailableError("store trouble");
      auto it = staff_.find(std::string(id));
      if (it == staff_.end()) return std::nullopt;
      return it->second;
    };
    return org;
  }
  void Place(const std::string& id, const std::string& team, const std::string& department) {
    crm::v1::Staff s;
    s.set_name("staff/" + id);
    s.set_team(team);
    s.set_department(department);
    staff_[id] = s;
  }
  static crm::v1::Customer Owned(const std::string& owner) {
    crm::v1::Customer c;
    c.set_owner(owner);
    c.set_team("teams/at-assignment");
    c.set_department("departments/at-assignment");
    return c;
  }

  std::map<std::string, crm::v1::Staff> staff_;
};

TEST_F(OwnerPlaceTest, FollowsTheOwnerWhereTheyAreNow) {
  Place("ann", "teams/west", "departments/sales");
  crm::v1::Customer c = Owned("ann");
  FollowOwner(c, Directory());
  EXPECT_EQ(c.team(), "teams/west");
  EXPECT_EQ(c.department(), "departments/sales");

  // She moves to a department without teams: the customer follows.
  Place("ann", "", "departments/service");
  FollowOwner(c, Directory());
  EXPECT_EQ(c.team(), "");
  EXPECT_EQ(c.department(), "departments/service");
}

TEST_F(OwnerPlaceTest, NoOwnerNoPlace) {
  crm::v1::Customer c = Owned("");
  FollowOwner(c, Directory());
  EXPECT_EQ(c.team(), "");
  EXPECT_EQ(c.department(), "");
}

TEST_F(OwnerPlaceTest, UnknownOwnerKeepsThePlaceRecordedAtAssignment) {
  for (const std::string owner : {"ghost", "broken"}) {
    crm::v1::Customer c = Owned(owner);
    FollowOwner(c, Directory());
    EXPECT_EQ(c.team(), "teams/at-assignment") << owner;
  }
  crm::v1::Customer c = Owned("ann");
  FollowOwner(c, OrgDirectory());  // no directory
  EXPECT_EQ(c.department(), "departments/at-assignment");
}

}  // namespace
}  // namespace crm::services::access
