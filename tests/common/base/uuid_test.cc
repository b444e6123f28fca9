#include "common/base/uuid.h"

#include <set>

#include "gtest/gtest.h"

namespace crm::base {
namespace {

TEST(UuidTest, NewUuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(UuidTest, NameBasedUuidIsStableAcrossProcesses) {
  // A fixed vector: every process, on every platform, must derive the same id.
  EXPECT_EQ(UuidFromName("crm.v1.RegisterCustomer/req-1"),
            UuidFromName("crm.v1.RegisterCustomer/req-1"));
  const std::string id = UuidFromName("hello");
  EXPECT_TRUE(IsUuid(id));
  EXPECT_EQ(id[14], '8');
  // The first 8 bytes are FNV-1a-64("hello") = 0xa430d84680aabd0b, version nibble set to 8.
  EXPECT_EQ(id, "a430d846-80aa-8d0b-a35d-726d422135fe");
  EXPECT_NE(UuidFromName("hello"), UuidFromName("hello!"));
}

TEST(UuidTest, IsUuidRejectsMalformed) {
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("3f0c2b1e-8d7a-4c55-9a51-0b6f1f3e2d1"));
  EXPECT_FALSE(IsUuid("3f0c2b1e+8d7a-4c55-9a51-0b6f1f3e2d10"));
  EXPECT_FALSE(IsUuid("3f0c2b1e-8d7a-4c55-9a51-0b6f1f3e2dxz"));
}

}  // namespace
}  // namespace crm::base
