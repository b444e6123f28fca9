#include "common/rpc/service_table.h"

#include "crm/v1/customer_service.grpc.pb.h"
#include "crm/v1/notification_service.pb.h"
#include "crm/v1/segment_service.pb.h"
#include "grpcpp/grpcpp.h"
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

TEST(ServiceTableTest, ValidateTellsAStreamFromAUnaryMethod) {
  Executor executor(1, 1);
  ServiceTable table("crm.v1.CustomerCommandService", &executor);
  table.Unary<crm::v1::ImportCustomersRequest, crm::v1::ImportCustomersResponse>(
      "ImportCustomers",
      [](const auto&, const auto&) { return Empty<crm::v1::ImportCustomersResponse>(); });
  absl::Status status = table.Validate();
  EXPECT_NE(status.message().find("ImportCustomers is registered as unary"), std::string::npos)
      << status;
}

TEST(ServiceTableTest, ValidateTellsAServerStreamFromAUnaryMethod) {
  Executor executor(1, 1);
  ServiceTable table("crm.v1.NotificationService", &executor);
  table.Unary<crm::v1::ListNotificationsRequest, crm::v1::ListNotificationsResponse>(
      "ListNotifications",
      [](const auto&, const auto&) { return Empty<crm::v1::ListNotificationsResponse>(); });
  table.Unary<crm::v1::WatchNotificationsRequest, crm::v1::Notification>(
      "WatchNotifications",
      [](const auto&, const auto&) { return Empty<crm::v1::Notification>(); });
  absl::Status status = table.Validate();
  EXPECT_NE(status.message().find("WatchNotifications is registered as unary"), std::string::npos)
      << status;
  ServiceTable streaming("crm.v1.NotificationService", &executor);
  streaming.Unary<crm::v1::ListNotificationsRequest, crm::v1::ListNotificationsResponse>(
      "ListNotifications",
      [](const auto&, const auto&) { return Empty<crm::v1::ListNotificationsResponse>(); });
  streaming.ServerStream<crm::v1::WatchNotificationsRequest, crm::v1::Notification>(
      "WatchNotifications", [](const auto&, const auto&) {
        return absl::StatusOr<ServiceTable::StreamSource<crm::v1::Notification>>(
            absl::UnimplementedError("not served"));
      });
  EXPECT_TRUE(streaming.Validate().ok()) << streaming.Validate();
}

// A client stream served for real (in process): its messages arrive as one merged request.
class ClientStreamTest : public ::testing::Test {
 protected:
  void Serve(size_t max_bytes) {
    table_.ClientStream<crm::v1::ImportCustomersRequest, crm::v1::ImportCustomersResponse>(
        "ImportCustomers",
        [](const crm::v1::ImportCustomersRequest& request, const CallContext&) {
          crm::v1::ImportCustomersResponse response;
          for (const auto& row : request.rows()) {
            response.add_results()->set_row_number(row.row_number());
          }
          response.set_consistency_token(request.request_id());
          return base::Future<crm::v1::ImportCustomersResponse>(response);
        },
        max_bytes);
    grpc::ServerBuilder builder;
    builder.RegisterService(&table_);
    server_ = builder.BuildAndStart();
    stub_ = crm::v1::CustomerCommandService::NewStub(server_->InProcessChannel({}));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  grpc::Status Import(const std::vector<crm::v1::ImportCustomersRequest>& messages,
                      crm::v1::ImportCustomersResponse* response) {
    grpc::ClientContext context;
    auto writer = stub_->ImportCustomers(&context, response);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }
  static crm::v1::ImportCustomersRequest Rows(std::initializer_list<int64_t> numbers) {
    crm::v1::ImportCustomersRequest request;
    for (int64_t n : numbers) request.add_rows()->set_row_number(n);
    return request;
  }

  Executor executor_{2, 8};
  ServiceTable table_{"crm.v1.CustomerCommandService", &executor_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<crm::v1::CustomerCommandService::Stub> stub_;
};

TEST_F(ClientStreamTest, MergesTheMessagesInOrder) {
  Serve(1 << 20);
  crm::v1::ImportCustomersRequest first = Rows({1, 2});
  first.set_request_id("imp-1");
  crm::v1::ImportCustomersResponse response;
  grpc::Status status = Import({first, Rows({3}), Rows({}), Rows({4, 5})}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(response.results(i).row_number(), i + 1);
  EXPECT_EQ(response.consistency_token(), "imp-1");

  // An empty stream is an empty request.
  ASSERT_TRUE(Import({}, &response).ok());
  EXPECT_EQ(response.results_size(), 0);
}

TEST_F(ClientStreamTest, RefusesMoreBytesThanItsLimit) {
  Serve(64);
  crm::v1::ImportCustomersRequest big;
  big.set_request_id(std::string(40, 'x'));
  crm::v1::ImportCustomersResponse response;
  grpc::Status status = Import({big, big}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
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
