#include "services/command/lock_table.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace crm::services::command {
namespace {

using LockSet = LockTable::LockSet;

// Keeps what a future delivered, so a test can see whether it is done yet.
struct Slot {
  std::optional<LockSet> held;
  void Take(base::Future<LockSet> future) {
    std::move(future).OnReady([this](absl::StatusOr<LockSet> set) {
      ASSERT_TRUE(set.ok());
      held.emplace(*std::move(set));
    });
  }
};

TEST(LockTableTest, SameKeyWaitsWithoutAThreadAndIsHandedOverInOrder) {
  LockTable table;
  Slot first, second, third;
  first.Take(table.Acquire({"a:customers/1"}));
  second.Take(table.Acquire({"a:customers/1"}));
  third.Take(table.Acquire({"a:customers/1", "r:req"}));
  ASSERT_TRUE(first.held.has_value());
  EXPECT_FALSE(second.held.has_value());
  EXPECT_FALSE(third.held.has_value());
  first.held.reset();
  ASSERT_TRUE(second.held.has_value());
  EXPECT_FALSE(third.held.has_value());
  second.held.reset();
  EXPECT_TRUE(third.held.has_value());
}

TEST(LockTableTest, OtherKeysDoNotWait) {
  LockTable table;
  Slot a, b;
  a.Take(table.Acquire({"a:customers/1"}));
  b.Take(table.Acquire({"a:customers/2"}));
  EXPECT_TRUE(a.held.has_value());
  EXPECT_TRUE(b.held.has_value());
}

TEST(LockTableTest, OverlappingSetsInAnyOrderNeverDeadlock) {
  LockTable table(8);
  std::vector<Slot> slots(50);
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::string x = "k" + std::to_string(i % 5), y = "k" + std::to_string((i * 3) % 7);
    slots[i].Take(i % 2 ? table.Acquire({x, y}) : table.Acquire({y, x}));
  }
  // Release in arrival order of grants until everyone has had the locks.
  size_t granted = 0;
  for (int round = 0; round < 1000 && granted < slots.size(); ++round) {
    for (auto& slot : slots) {
      if (slot.held.has_value()) {
        slot.held.reset();
        ++granted;
      }
    }
  }
  EXPECT_EQ(granted, slots.size());
}

}  // namespace
}  // namespace crm::services::command
