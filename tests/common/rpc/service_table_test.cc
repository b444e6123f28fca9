#include "common/rpc/service_table.h"

#include "crm/v1/segment_service.pb.h"
#include "gtest/gtest.h"

namespace crm::rpc {
namespace {

template <typename Resp>
base::Future<Resp> Empty() {
  return Resp();
}

TEST(ServiceTableTest, ValidateNamesMissingAndMistypedMethods) {
  Executor executor(1, 1);
  ServiceTable table("crm.v1.SegmentService", &executor);
  table.Unary<crm::v1::GetCustomerValueRequest, crm::v1::CustomerValue>(
      "GetCustomerValue", [](const auto&, const auto&) { return Empty<crm::v1::CustomerValue>(); });
  // Wrong response type for the proto's method.
  table.Unary<crm::v1::GetSegmentSizesRequest, crm::v1::CustomerValue>(
      "GetSegmentSizes", [](const auto&, const auto&) { return Empty<crm::v1::CustomerValue>(); });
  absl::Status status = table.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("GetLifecycleFunnel has no handler"), std::string::npos)
      << status;
  EXPECT_NE(status.message().find("GetSegmentSizes has handler types"), std::string::npos)
      << status;
}

TEST(ServiceTableTest, ACompleteTableIsValid) {
  Executor executor(1, 1);
  ServiceTable table("crm.v1.SegmentService", &executor);
  table.Unary<crm::v1::GetCustomerValueRequest, crm::v1::CustomerValue>(
      "GetCustomerValue", [](const auto&, const auto&) { return Empty<crm::v1::CustomerValue>(); });
  table.Unary<crm::v1::GetSegmentSizesRequest, crm::v1::SegmentSizes>(
      "GetSegmentSizes", [](const auto&, const auto&) { return Empty<crm::v1::SegmentSizes>(); });
  table.Unary<crm::v1::GetLifecycleFunnelRequest, crm::v1::LifecycleFunnel>(
      "GetLifecycleFunnel",
      [](const auto&, const auto&) { return Empty<crm::v1::LifecycleFunnel>(); });
  EXPECT_TRUE(table.Validate().ok()) << table.Validate();
  EXPECT_EQ(table.service_name(), "crm.v1.SegmentService");
}

TEST(RequestDigestTest, SameRequestSameDigestOtherRequestOther) {
  crm::v1::GetCustomerValueRequest a, b;
  a.set_name("customers/a");
  b.set_name("customers/b");
  EXPECT_EQ(RequestDigest(a), RequestDigest(a));
  EXPECT_NE(RequestDigest(a), RequestDigest(b));
}

}  // namespace
}  // namespace crm::rpc
