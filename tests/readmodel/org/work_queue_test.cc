#include "readmodel/org/work_queue.h"

#include <string>

#include "gtest/gtest.h"

namespace crm::readmodel::org {
namespace {

TEST(WorkQueueTest, PriorityFromSeverityAndTier) {
  EXPECT_EQ(Priority(crm::v1::SEVERE, crm::v1::HIGH_VALUE), 1);
  EXPECT_EQ(Priority(crm::v1::SEVERE, crm::v1::ORDINARY), 2);
  EXPECT_EQ(Priority(crm::v1::GENERAL, crm::v1::HIGH_VALUE), 2);
  EXPECT_EQ(Priority(crm::v1::GENERAL, crm::v1::POTENTIAL_VALUE), 3);
  EXPECT_EQ(Priority(crm::v1::MINOR, crm::v1::HIGH_VALUE), 3);
  EXPECT_EQ(Priority(crm::v1::MINOR, crm::v1::VALUE_TIER_UNSPECIFIED), 4);
  // A follow-up (no severity) counts as minor.
  EXPECT_EQ(Priority(crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED, crm::v1::HIGH_VALUE), 3);
  EXPECT_EQ(Priority(crm::v1::COMPLAINT_SEVERITY_UNSPECIFIED, crm::v1::ORDINARY), 4);
}

TEST(WorkQueueTest, PositionsSortInQueueOrderAndRoundTrip) {
  const QueueSlot urgent_late{1, absl::FromUnixSeconds(2'000'000'000), "customers/b/complaints/x"};
  const QueueSlot less_urgent_early{2, absl::FromUnixSeconds(1), "customers/a/complaints/y"};
  const QueueSlot undated{2, std::nullopt, "customers/a/complaints/a"};
  const QueueSlot pre_epoch{2, absl::FromUnixSeconds(-5) + absl::Nanoseconds(7),
                            "customers/a/interactions/i"};
  EXPECT_LT(QueuePosition(urgent_late), QueuePosition(less_urgent_early));
  EXPECT_LT(QueuePosition(pre_epoch), QueuePosition(less_urgent_early));
  EXPECT_LT(QueuePosition(less_urgent_early), QueuePosition(undated));
  for (const QueueSlot& slot : {urgent_late, less_urgent_early, undated, pre_epoch}) {
    auto parsed = ParseQueuePosition(QueuePosition(slot));
    ASSERT_TRUE(parsed.has_value()) << slot.aggregate;
    EXPECT_EQ(parsed->priority, slot.priority);
    EXPECT_EQ(parsed->due, slot.due);
    EXPECT_EQ(parsed->aggregate, slot.aggregate);
  }
  for (const std::string bad :
       {std::string(""), std::string("x"), std::string("5\0~\0a", 5), std::string("1\0~\0", 4),
        std::string("1\0123\0a", 7), std::string("12\0~\0a", 6)}) {
    EXPECT_FALSE(ParseQueuePosition(bad).has_value());
  }
  // A staff member's keys are one range.
  EXPECT_EQ(QueueKey("ann", undated).rfind(QueuePrefix("ann"), 0), 0u);
  EXPECT_NE(QueueKey("ann2", undated).rfind(QueuePrefix("ann"), 0), 0u);
}

TEST(WorkQueueTest, KeysOfComplaintsAndFollowUps) {
  crm::v1::Complaint c;
  c.set_name("customers/a/complaints/k");
  c.set_version(3);
  c.set_status(crm::v1::ASSIGNED);
  c.set_severity(crm::v1::SEVERE);
  c.set_customer_tier(crm::v1::HIGH_VALUE);
  c.mutable_response_deadline()->mutable_due_time()->set_seconds(100);
  c.mutable_resolution_deadline()->mutable_due_time()->set_seconds(50);
  EXPECT_TRUE(QueueKeysOf(c).empty());  // nobody holds it
  c.mutable_assignee()->set_staff_id("ann");
  c.mutable_escalated_to()->set_staff_id("boss");
  auto keys = QueueKeysOf(c);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(SlotOf(c).priority, 1);
  EXPECT_EQ(SlotOf(c).due, absl::FromUnixSeconds(50));  // the earliest deadline not met
  c.set_reopen_count(1);
  c.mutable_resolution_deadline()->mutable_due_time()->set_seconds(500);
  EXPECT_EQ(SlotOf(c).due, absl::FromUnixSeconds(500));  // after a reopening: the new round only
  c.set_status(crm::v1::CLOSED);
  EXPECT_TRUE(QueueKeysOf(c).empty());

  crm::v1::Interaction i;
  i.set_name("customers/a/interactions/i");
  i.set_version(1);
  i.set_staff_id("ann");
  EXPECT_TRUE(QueueKeysOf(i).empty());  // no follow-up
  i.mutable_follow_up_due_time()->set_seconds(70);
  EXPECT_EQ(QueueKeysOf(i).size(), 1u);
  i.mutable_follow_up_complete_time()->set_seconds(60);
  EXPECT_TRUE(QueueKeysOf(i).empty());
}

}  // namespace
}  // namespace crm::readmodel::org
