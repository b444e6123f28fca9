#include "common/eventlog/consistency_token.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace crm::eventlog {
namespace {

TEST(ConsistencyTokenTest, RoundTrips) {
  for (const PositionMap& positions :
       {PositionMap{}, PositionMap{{0, 0}}, PositionMap{{0, 42}, {3, 7}, {11, 9000000000}}}) {
    const std::string token = EncodeConsistencyToken(positions);
    auto decoded = DecodeConsistencyToken(token);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, positions);
  }
}

TEST(ConsistencyTokenTest, EncodingIsBase64UrlWithoutPadding) {
  const std::string token = EncodeConsistencyToken({{0, 5}, {1, 7}});
  EXPECT_EQ(token, absl::WebSafeBase64Escape("0:5;1:7"));
  EXPECT_EQ(token.find('='), std::string::npos);
  EXPECT_EQ(EncodeConsistencyToken({}), "");
}

TEST(ConsistencyTokenTest, EmptyTokenIsEmptyMap) {
  auto decoded = DecodeConsistencyToken("");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(ConsistencyTokenTest, RejectsMalformed) {
  for (const std::string& plain :
       {std::string("garbage"), std::string("0:"), std::string(":5"), std::string("0:5;"),
        std::string("0:-1"), std::string("-1:5"), std::string("0:+5"), std::string("0: 5"),
        std::string("0:5:6"), std::string("0:5;0:6"), std::string("0:99999999999999999999"),
        std::string("2147483648:1"), std::string("0:5x")}) {
    auto decoded = DecodeConsistencyToken(absl::WebSafeBase64Escape(plain));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << plain;
    EXPECT_NE(decoded.status().message().find("consistency_token"), std::string::npos);
  }
  EXPECT_EQ(DecodeConsistencyToken("!!not base64!!").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeConsistencyToken("MDo1==").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::eventlog
