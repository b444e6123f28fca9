#include "common/rpc/grpc_status.h"

#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace crm::rpc {
namespace {

google::rpc::Status WireStatus(const grpc::Status& status) {
  google::rpc::Status wire;
  EXPECT_TRUE(wire.ParseFromString(status.error_details()));
  return wire;
}

TEST(GrpcStatusTest, MapsEveryCodeByTable) {
  struct Row {
    absl::StatusCode in;
    grpc::StatusCode out;
  };
  const Row table[] = {
      {absl::StatusCode::kOk, grpc::StatusCode::OK},
      {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
      {absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
      {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
      // Codes outside the table are unknown to the caller.
      {static_cast<absl::StatusCode>(17), grpc::StatusCode::UNKNOWN},
      {static_cast<absl::StatusCode>(42), grpc::StatusCode::UNKNOWN},
      {static_cast<absl::StatusCode>(-1), grpc::StatusCode::UNKNOWN},
  };
  for (const Row& row : table) {
    EXPECT_EQ(ToGrpcCode(row.in), row.out) << static_cast<int>(row.in);
    if (row.in == absl::StatusCode::kOk) continue;
    grpc::Status wire = ToGrpcStatus(absl::Status(row.in, "boom"));
    EXPECT_EQ(wire.error_code(), row.out) << static_cast<int>(row.in);
    EXPECT_EQ(wire.error_message(), "boom");
    EXPECT_EQ(WireStatus(wire).code(), static_cast<int>(row.out));
  }
}

TEST(GrpcStatusTest, OkHasNoDetails) {
  grpc::Status wire = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(wire.ok());
  EXPECT_TRUE(wire.error_details().empty());
}

TEST(GrpcStatusTest, CarriesBadRequestAndErrorInfo) {
  grpc::Status wire =
      ToGrpcStatus(status::InvalidArgument("customer.emails[1]", "is not an e-mail address"));
  ASSERT_EQ(wire.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details = WireStatus(wire);
  bool saw_bad_request = false, saw_error_info = false;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad_request;
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&bad_request)) {
      saw_bad_request = true;
      ASSERT_EQ(bad_request.field_violations_size(), 1);
      EXPECT_EQ(bad_request.field_violations(0).field(), "customer.emails[1]");
    } else if (any.UnpackTo(&info)) {
      saw_error_info = true;
      EXPECT_EQ(info.domain(), "crm.v1");
    }
  }
  EXPECT_TRUE(saw_bad_request);
  EXPECT_TRUE(saw_error_info);
}

TEST(GrpcStatusTest, DetailsAreInTypeUrlOrderEveryTime) {
  // absl::Status iterates its payloads in no promised order; the wire bytes of one error must
  // not vary (a retried request answers its first answer byte for byte).
  const absl::Status s = status::InvalidArgument("customer.emails[1]", "is not an e-mail address");
  const std::string first = ToGrpcStatus(s).error_details();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(ToGrpcStatus(absl::Status(s)).error_details(), first) << i;
  }
  // Metadata maps too (map order on the wire is otherwise unspecified).
  const absl::Status many = status::Error(absl::StatusCode::kAlreadyExists, "dup", "DUPLICATE",
                                          {{"first_row", "2"}, {"field", "f"}, {"a", "b"}});
  const std::string many_first = ToGrpcStatus(many).error_details();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(ToGrpcStatus(status::Error(absl::StatusCode::kAlreadyExists, "dup", "DUPLICATE",
                                         {{"first_row", "2"}, {"field", "f"}, {"a", "b"}}))
                  .error_details(),
              many_first)
        << i;
  }
  google::rpc::Status details = WireStatus(ToGrpcStatus(s));
  ASSERT_EQ(details.details_size(), 2);
  EXPECT_EQ(details.details(0).type_url(), "type.googleapis.com/google.rpc.BadRequest");
  EXPECT_EQ(details.details(1).type_url(), "type.googleapis.com/google.rpc.ErrorInfo");
}

TEST(GrpcStatusTest, AddsErrorInfoWithCodeNameWhenMissing) {
  google::rpc::Status details = WireStatus(ToGrpcStatus(absl::UnavailableError("broker down")));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "UNAVAILABLE");
  EXPECT_EQ(info.domain(), "crm.v1");
}

TEST(GrpcStatusTest, KeepsOwnErrorInfo) {
  absl::Status s = status::Error(absl::StatusCode::kAlreadyExists, "taken", "EMAIL_TAKEN",
                                 {{"existing_customer", "customers/a"}});
  google::rpc::Status details = WireStatus(ToGrpcStatus(s));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "EMAIL_TAKEN");
  EXPECT_EQ(info.metadata().at("existing_customer"), "customers/a");
}

TEST(GrpcStatusTest, UnknownCodeGetsUnknownReason) {
  google::rpc::Status details =
      WireStatus(ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "odd")));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "UNKNOWN");
}

TEST(GrpcStatusTest, FromGrpcStatusGivesBackTheErrorWithItsDetails) {
  absl::Status sent = status::PreconditionFailed("CUSTOMER_MERGED", "customers/a was merged",
                                                 "customers/a", {{"survivor", "customers/b"}});
  status::AddDetail(sent, [] {
    google::rpc::BadRequest bad;
    bad.add_field_violations()->set_field("merged_etag");
    return bad;
  }());
  absl::Status back = FromGrpcStatus(ToGrpcStatus(sent));
  EXPECT_EQ(back.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(back.message(), "customers/a was merged");
  EXPECT_EQ(status::Details(back), status::Details(sent));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(status::GetDetail(back, &info));
  EXPECT_EQ(info.metadata().at("survivor"), "customers/b");
}

TEST(GrpcStatusTest, FromGrpcStatusOfAnErrorWithoutDetails) {
  absl::Status back = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect"));
  EXPECT_EQ(back.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(back.message(), "connect");
  EXPECT_TRUE(status::Details(back).empty());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace crm::rpc
