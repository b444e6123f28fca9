#include "services/query/page_token.h"

#include "gtest/gtest.h"

namespace crm::services::query {
namespace {

TEST(PageTokenTest, RoundTrips) {
  auto cursor = DecodePageToken(EncodePageToken("customers", "f1", "abc"), "customers", "f1");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, "abc");
}

TEST(PageTokenTest, RefusesOtherFilters) {
  auto cursor = DecodePageToken(EncodePageToken("customers", "f1", "abc"), "customers", "f2");
  EXPECT_EQ(cursor.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PageTokenTest, RefusesOtherKind) {
  auto cursor = DecodePageToken(EncodePageToken("history", "f1", "3"), "customers", "f1");
  EXPECT_EQ(cursor.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PageTokenTest, RefusesGarbage) {
  EXPECT_FALSE(DecodePageToken("!!!", "customers", "").ok());
  EXPECT_FALSE(DecodePageToken("YWJj", "customers", "").ok());
}

}  // namespace
}  // namespace crm::services::query
