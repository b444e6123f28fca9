#include "common/rpc/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace crm::rpc {

grpc::StatusCode ToGrpcCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return grpc::StatusCode::OK;
    case absl::StatusCode::kCancelled:
      return grpc::StatusCode::CANCELLED;
    case absl::StatusCode::kUnknown:
      return grpc::StatusCode::UNKNOWN;
    case absl::StatusCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case absl::StatusCode::kDeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case absl::StatusCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case absl::StatusCode::kAborted:
      return grpc::StatusCode::ABORTED;
    case absl::StatusCode::kOutOfRange:
      return grpc::StatusCode::OUT_OF_RANGE;
    case absl::StatusCode::kUnimplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case absl::StatusCode::kInternal:
      return grpc::StatusCode::INTERNAL;
    case absl::StatusCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case absl::StatusCode::kDataLoss:
      return grpc::StatusCode::DATA_LOSS;
    case absl::StatusCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    default:
      return grpc::StatusCode::UNKNOWN;
  }
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status wire;
  if (status.ok()) return wire;
  const grpc::StatusCode code = ToGrpcCode(status.code());
  wire.set_code(static_cast<int>(code));
  wire.set_message(std::string(status.message()));
  bool has_error_info = false;
  for (const auto& [url, bytes] : status::Details(status)) {
    auto* any = wire.add_details();
    any->set_type_url(url);
    any->set_value(bytes);
    if (url == "type.googleapis.com/google.rpc.ErrorInfo") has_error_info = true;
  }
  if (!has_error_info) {
    google::rpc::ErrorInfo info;
    info.set_reason(code == grpc::StatusCode::UNKNOWN && status.code() != absl::StatusCode::kUnknown
                        ? "UNKNOWN"
                        : absl::StatusCodeToString(status.code()));
    // StatusCodeToString gives e.g. "NOT_FOUND"; an out-of-range code gives "" -> UNKNOWN.
    if (info.reason().empty()) info.set_reason("UNKNOWN");
    info.set_domain(std::string(status::kErrorDomain));
    auto* any = wire.add_details();
    any->PackFrom(info);
  }
  return wire;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(ToGrpcCode(status.code()), std::string(status.message()),
                      ToRpcStatus(status).SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  google::rpc::Status wire;
  if (!status.error_details().empty() && wire.ParseFromString(status.error_details())) {
    for (const auto& any : wire.details()) out.SetPayload(any.type_url(), absl::Cord(any.value()));
  }
  return out;
}

}  // namespace crm::rpc
