// The one place where internal errors (absl::Status with google.rpc detail payloads, see
// common/status/errors.h) become gRPC wire errors: a grpc::Status whose code follows the table
// in ToGrpcCode and whose binary details carry a google.rpc.Status with every attached detail.
//
// Every error also carries an ErrorInfo (domain "crm.v1"); one without its own gets reason =
// the code name. INTERNAL/UNKNOWN errors keep their message: we have no secrets in them.
// Thread-safe: pure functions.
#pragma once

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace crm::rpc {

// absl and gRPC share numbering for codes 0..16; anything else maps to UNKNOWN.
grpc::StatusCode ToGrpcCode(absl::StatusCode code);

// OK maps to grpc::Status::OK with no details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The google.rpc.Status that ToGrpcStatus carries in its details: for an error reported inside an
// answer (e.g. a failed row of ImportCustomers). OK maps to an empty one (code 0).
google::rpc::Status ToRpcStatus(const absl::Status& status);

// The reverse of ToGrpcStatus, for an error another replica answered (services/command/
// command_router.h): the code, the message and every detail of its google.rpc.Status, so the
// error reaches our caller as the peer raised it. Details that cannot be decoded are dropped.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace crm::rpc
