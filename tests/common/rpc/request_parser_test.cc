#include "common/rpc/request_parser.h"

#include <string>

#include "common/status/errors.h"
#include "crm/v1/customer_service.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::rpc {
namespace {

std::string ViolatedField(const absl::Status& status) {
  google::rpc::BadRequest bad_request;
  if (!status::GetDetail(status, &bad_request) || bad_request.field_violations_size() == 0) {
    return "<none>";
  }
  return bad_request.field_violations(0).field();
}

// A RegisterCustomerRequest whose customer.display_name holds `name` byte for byte.
std::string RegisterWithRawName(const std::string& name) {
  crm::v1::RegisterCustomerRequest request;
  request.mutable_customer()->set_display_name(std::string(name.size(), 'x'));
  std::string bytes = request.SerializeAsString();
  bytes.replace(bytes.find(std::string(name.size(), 'x')), name.size(), name);
  return bytes;
}

TEST(RequestParserTest, ParsesValidRequest) {
  crm::v1::RegisterCustomerRequest request, parsed;
  request.set_customer_id("acme");
  request.mutable_customer()->set_display_name("Acme 公司");
  ASSERT_TRUE(ParseRequest(request.SerializeAsString(), &parsed).ok());
  EXPECT_EQ(parsed.customer().display_name(), "Acme 公司");
}

TEST(RequestParserTest, NamesFieldWithInvalidUtf8) {
  crm::v1::RegisterCustomerRequest parsed;
  absl::Status s = ParseRequest(RegisterWithRawName("ab\xff\xfe"), &parsed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ViolatedField(s), "customer.display_name");
}

TEST(RequestParserTest, NamesMapFieldWithInvalidUtf8) {
  crm::v1::RegisterCustomerRequest request, parsed;
  (*request.mutable_customer()->mutable_attributes())["k"] = "vvvv";
  std::string bytes = request.SerializeAsString();
  bytes.replace(bytes.find("vvvv"), 4, "v\xc3\x28v");
  absl::Status s = ParseRequest(bytes, &parsed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ViolatedField(s), "customer.attributes");
}

TEST(RequestParserTest, RefusesOversizedRequest) {
  crm::v1::RegisterCustomerRequest request, parsed;
  request.mutable_customer()->set_display_name(std::string(2000, 'a'));
  absl::Status s = ParseRequest(request.SerializeAsString(), &parsed, 1000);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequestParserTest, RefusesGarbage) {
  crm::v1::RegisterCustomerRequest parsed;
  absl::Status s = ParseRequest(std::string("\xff\xff\xff\xff", 4), &parsed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequestParserTest, FieldPathForNestedField) {
  EXPECT_EQ(FieldPathFor(crm::v1::UpdateCustomerRequest::descriptor(), "crm.v1.Customer.region"),
            "customer.region");
  EXPECT_EQ(
      FieldPathFor(crm::v1::RecordPurchaseRequest::descriptor(), "crm.v1.Money.currency_code"),
      "purchase.amount.currency_code");
  EXPECT_EQ(FieldPathFor(crm::v1::GetCustomerRequest::descriptor(), "nope.Nope.x"), "");
}

}  // namespace
}  // namespace crm::rpc
