#include "services/command/command_router.h"

#include <map>
#include <string>

#include "common/eventlog/in_memory_event_log.h"
#include "gtest/gtest.h"

namespace crm::services::command {
namespace {

TEST(CommandRouterTest, SingleReplicaHandlesEverything) {
  eventlog::InMemoryEventLog log(6);
  CommandRouter router(&log, {});
  EXPECT_TRUE(router.Validate().ok());
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(router.OwnerOf("c" + std::to_string(i)).has_value());
}

TEST(CommandRouterTest, EveryCustomerHasExactlyOneOwnerByPartition) {
  eventlog::InMemoryEventLog log(6);
  const std::vector<std::string> peers = {"a:1", "b:2"};
  CommandRouter r0(&log, {.replica_index = 0, .peers = peers});
  CommandRouter r1(&log, {.replica_index = 1, .peers = peers});
  std::map<std::string, int> local_count;
  for (int i = 0; i < 200; ++i) {
    const std::string id = "customer-" + std::to_string(i);
    auto o0 = r0.OwnerOf(id);
    auto o1 = r1.OwnerOf(id);
    // Exactly one replica handles it locally, and the other forwards to it.
    ASSERT_NE(o0.has_value(), o1.has_value()) << id;
    const int owner = log.PartitionOf(id) % 2;
    if (owner == 0) {
      EXPECT_EQ(*o1, "a:1");
    } else {
      EXPECT_EQ(*o0, "b:2");
    }
    ++local_count[o0.has_value() ? "r1" : "r0"];
  }
  EXPECT_GT(local_count["r0"], 0);
  EXPECT_GT(local_count["r1"], 0);
}

TEST(CommandRouterTest, RejectsIndexOutsidePeers) {
  eventlog::InMemoryEventLog log(6);
  CommandRouter router(&log, {.replica_index = 2, .peers = {"a:1", "b:2"}});
  EXPECT_EQ(router.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::services::command
